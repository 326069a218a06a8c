package ratelimitgrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/ratelimit"
)

// Policy is a named rate limit for gRPC calls: the limiter that holds the
// buckets and the key function that picks a call's bucket.
type Policy struct {
	// Name identifies the policy as the paved.ratelimit.policy metric
	// attribute and in errors. It must be printable ASCII and not empty,
	// unless Limiter is nil.
	Name string
	// Limiter holds the buckets, usually a *ratelimit.Keyed. A nil Limiter
	// limits nothing.
	Limiter ratelimit.Decider
	// Key picks a call's bucket. nil means PeerIP.
	Key KeyFunc
}

// UnaryServerInterceptor returns an interceptor that takes a token for
// every call from the bucket its policy's key picks: the policy WithMethod
// gives the call's method or service, or else def. A limited call fails
// with RESOURCE_EXHAUSTED carrying a google.rpc.RetryInfo detail and the
// grpc-retry-pushback-ms trailer; a call without a key fails with
// INVALID_ARGUMENT unless WithAnonymousKey names a shared bucket. When the
// limiter itself fails the call goes through and the failure is logged.
// Decisions are counted in paved.ratelimit.decisions and limited ones add
// a ratelimit.limited span event.
func UnaryServerInterceptor(def Policy, opts ...Option) (grpc.UnaryServerInterceptor, error) {
	l, err := newLimits(def, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := l.check(ctx, info.FullMethod); err != nil {
			return nil, grpcx.ServerError(ctx, err)
		}
		return handler(ctx, req)
	}, nil
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: a stream
// takes one token when it opens, whatever it carries afterwards.
func StreamServerInterceptor(def Policy, opts ...Option) (grpc.StreamServerInterceptor, error) {
	l, err := newLimits(def, opts)
	if err != nil {
		return nil, err
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := l.check(ss.Context(), info.FullMethod); err != nil {
			return grpcx.StreamServerError(ss, err)
		}
		return handler(srv, ss)
	}, nil
}

type limits struct {
	def          *policy
	methods      map[string]*policy // by full method or "/service/"
	filter       func(context.Context, string) bool
	anonymousKey string
	anonymous    bool
	dryRun       bool
	events       bool
	logger       *slog.Logger
}

type policy struct {
	name       string
	lim        ratelimit.Decider
	key        KeyFunc
	decisions  *otelx.Counter
	attr       attribute.KeyValue
	nextLog    atomic.Int64
	suppressed atomic.Int64
}

func newLimits(def Policy, opts []Option) (*limits, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	l := &limits{
		filter:       c.filter,
		anonymousKey: c.anonymousKey,
		anonymous:    c.anonymous,
		dryRun:       c.dryRun,
		events:       c.spanEvents(),
		logger:       c.logger,
	}
	if l.def, err = compile(&c, def, "default policy"); err != nil {
		return nil, err
	}
	limited := l.def != nil
	for _, m := range c.methods {
		if _, dup := l.methods[m.name]; dup {
			return nil, errors.New("ratelimitgrpc: WithMethod: " + m.name + " given twice")
		}
		p, err := compile(&c, m.policy, m.name)
		if err != nil {
			return nil, err
		}
		if l.methods == nil {
			l.methods = make(map[string]*policy, len(c.methods))
		}
		l.methods[m.name] = p
		limited = limited || p != nil
	}
	if !limited {
		return nil, errors.New("ratelimitgrpc: no policy has a limiter")
	}
	return l, nil
}

func compile(c *config, p Policy, what string) (*policy, error) {
	if p.Limiter == nil {
		return nil, nil
	}
	if !validName(p.Name) {
		return nil, errors.New("ratelimitgrpc: " + what + ": name must be printable ASCII and not empty")
	}
	decisions, err := otelx.RateLimitDecisions(c.meterProvider, p.Name)
	if err != nil {
		return nil, fmt.Errorf("ratelimitgrpc: %w", err)
	}
	cp := &policy{
		name:      p.Name,
		lim:       p.Limiter,
		key:       p.Key,
		decisions: decisions,
		attr:      attribute.String(otelx.AttrRateLimitPolicy, p.Name),
	}
	if cp.key == nil {
		cp.key = PeerIP
	}
	return cp, nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return false
		}
	}
	return true
}

// policyFor returns the policy of a method: its own, its service's, or
// the default.
func (l *limits) policyFor(fullMethod string) *policy {
	if l.methods != nil {
		if p, ok := l.methods[fullMethod]; ok {
			return p
		}
		if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
			if p, ok := l.methods[fullMethod[:i+1]]; ok {
				return p
			}
		}
	}
	return l.def
}

// check decides one call and returns the error to fail it with, or nil.
func (l *limits) check(ctx context.Context, fullMethod string) error {
	p := l.policyFor(fullMethod)
	if p == nil || (l.filter != nil && !l.filter(ctx, fullMethod)) {
		return nil
	}
	key, err := p.key(ctx, fullMethod)
	if err != nil || key == "" {
		if !l.anonymous {
			if l.dryRun {
				l.log(ctx, p, slog.LevelInfo, "ratelimit: dry run: call has no key and would be rejected", fullMethod)
				return nil
			}
			if err != nil {
				// Not the error's text: it may quote the metadata it failed on.
				l.log(ctx, p, slog.LevelDebug, "ratelimit: key function failed; call rejected", fullMethod)
			}
			return ratelimit.ErrNoKey
		}
		key = l.anonymousKey
	}
	d, err := p.lim.Decide(ctx, key, 1)
	if err != nil {
		l.log(ctx, p, slog.LevelWarn, "ratelimit: limiter failed; call let through", fullMethod,
			slog.String("error", err.Error()))
		return nil
	}
	if d.Allowed {
		p.decisions.Add(ctx, "allowed")
		return nil
	}
	p.decisions.Add(ctx, "limited")
	if l.events {
		otelx.AddEvent(ctx, otelx.EventRateLimitLimited, p.attr,
			attribute.Bool("paved.ratelimit.dry_run", l.dryRun),
			attribute.Int64("paved.ratelimit.retry_after_ms", d.RetryAfter.Milliseconds()))
	}
	if l.dryRun {
		l.log(ctx, p, slog.LevelInfo, "ratelimit: dry run: call would be limited", fullMethod,
			slog.Duration("retry_after", d.RetryAfter))
		return nil
	}
	return &ratelimit.LimitError{Policy: p.name, RetryAfter: d.RetryAfter}
}

// logInterval is the least time between two log lines of one policy, so
// a flood of limited calls does not flood the logs; the metrics count
// every decision.
const logInterval = time.Second

func (l *limits) log(ctx context.Context, p *policy, level slog.Level, msg, fullMethod string, attrs ...slog.Attr) {
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	now := time.Now().UnixNano()
	next := p.nextLog.Load()
	if now < next || !p.nextLog.CompareAndSwap(next, now+int64(logInterval)) {
		p.suppressed.Add(1)
		return
	}
	attrs = append(attrs,
		slog.String("policy", p.name),
		slog.String("method", fullMethod),
		slog.Int64("suppressed", p.suppressed.Swap(0)))
	logger.LogAttrs(ctx, level, msg, attrs...)
}
