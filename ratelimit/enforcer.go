package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/internal/otelx"
)

// Enforcer applies one named policy to requests of any transport: it
// takes a token from the bucket of the key it is given, counts the
// decision, adds a span event to a limited request's span, and logs what
// an operator must see (a failing limiter, dry-run decisions) without
// flooding the logs. Policies does this for net/http and ratelimitgrpc for
// gRPC; a server of another protocol (a message consumer, a WebSocket
// hub) builds its own adapter on it. An Enforcer is safe for concurrent
// use.
type Enforcer struct {
	name         string
	lim          Decider
	local        localDecider // lim, when it is an in-memory limiter
	anonymousKey string
	anonymous    bool
	dryRun       bool
	logger       *slog.Logger // nil: slog.Default()
	decisions    *otelx.Counter
	overflow     *otelx.Counter
	attr         attribute.KeyValue
	nextLog      atomic.Int64    // unix nanoseconds before which nothing is logged
	suppressed   atomic.Int64    // log lines skipped since the last one
	rejected     atomic.Uint64   // limited decisions, for the status page
	status       *enforcerStatus // nil when not registered
}

// NewEnforcer returns an Enforcer of the policy name (the
// paved.ratelimit.policy metric attribute, the policy in a *LimitError and
// in log lines) whose buckets lim holds. name must be printable ASCII and
// not empty, and lim must not be nil. It accepts WithAnonymousKey,
// WithDryRun, WithLogger and WithMeterProvider.
func NewEnforcer(name string, lim Decider, opts ...Option) (*Enforcer, error) {
	c, err := newConfig(forEnforcer, opts)
	if err != nil {
		return nil, err
	}
	e, err := newEnforcer(&c, name, lim, "NewEnforcer")
	if err != nil {
		return nil, err
	}
	e.register("")
	return e, nil
}

func newEnforcer(c *config, name string, lim Decider, what string) (*Enforcer, error) {
	if lim == nil || isNilLimiter(lim) {
		return nil, errors.New("ratelimit: " + what + ": nil limiter")
	}
	if !validPolicyName(name) {
		return nil, errors.New("ratelimit: " + what + ": policy name must be printable ASCII and not empty")
	}
	decisions, err := otelx.RateLimitDecisions(c.meterProvider, name)
	if err != nil {
		return nil, errors.New("ratelimit: " + err.Error())
	}
	overflow, err := otelx.RateLimitOverflow(c.meterProvider, name)
	if err != nil {
		return nil, errors.New("ratelimit: " + err.Error())
	}
	local, _ := lim.(localDecider)
	return &Enforcer{
		name:         name,
		lim:          lim,
		local:        local,
		anonymousKey: c.anonymousKey,
		anonymous:    c.anonymous,
		dryRun:       c.dryRun,
		logger:       c.logger,
		decisions:    decisions,
		overflow:     overflow,
		attr:         attribute.String(otelx.AttrRateLimitPolicy, name),
	}, nil
}

// Name returns the policy's name.
func (e *Enforcer) Name() string { return e.name }

// Check takes one token from key's bucket for a request to operation (a
// route pattern, a gRPC method: it is logged, never counted). A nil error
// means the request may go ahead; otherwise the error is a *LimitError
// (unwrapping to ErrLimited) or ErrNoKey, for a request without a key
// ("") when WithAnonymousKey names no shared bucket.
//
// The Decision is the limiter's, for rate-limit headers; it is zero when
// no decision was made. When the limiter fails (its store is unreachable)
// Check lets the request go ahead and logs the failure at Warn. In dry run
// Check never returns an error: a decision that would limit comes back
// not Allowed with a nil error, and is logged at Info.
//
// Every decision counts in paved.ratelimit.decisions (and, when the key
// had to share a Keyed's overflow bucket, paved.ratelimit.overflow); a
// limited one adds a ratelimit.limited event to the span in ctx. Log
// lines of one Enforcer are at most about one a second, each counting the
// ones it suppressed; they carry the policy and operation, never the key.
func (e *Enforcer) Check(ctx context.Context, operation, key string) (Decision, error) {
	return e.check(ctx, operation, key, true)
}

// Allow is Check for callers that send no rate-limit headers and so need
// no Decision, such as a gRPC server: with an in-memory limiter, taking a
// token from a bucket that holds one then locks the bucket once, not
// twice. It returns what Check would.
func (e *Enforcer) Allow(ctx context.Context, operation, key string) error {
	_, err := e.check(ctx, operation, key, false)
	return err
}

// check is Check; an allowed Decision is complete only when full.
func (e *Enforcer) check(ctx context.Context, operation, key string, full bool) (Decision, error) {
	if key == "" {
		if !e.anonymous {
			return Decision{}, e.noKey(ctx, operation)
		}
		key = e.anonymousKey
	}
	var (
		d        Decision
		overflow bool
		err      error
	)
	if e.local != nil {
		d, overflow = e.local.decideLocal(key, full)
	} else {
		d, err = e.lim.Decide(ctx, key, 1)
	}
	if err != nil {
		e.log(ctx, slog.LevelWarn, "ratelimit: limiter failed; request let through", operation,
			slog.String("error", err.Error()))
		return Decision{}, nil
	}
	if overflow {
		e.overflow.Add(ctx, "")
	}
	if d.Allowed {
		e.decisions.Add(ctx, "allowed")
		return d, nil
	}
	return d, e.limited(ctx, operation, d)
}

func (e *Enforcer) noKey(ctx context.Context, operation string) error {
	if e.dryRun {
		e.log(ctx, slog.LevelInfo, "ratelimit: dry run: request has no key and would be rejected", operation)
		return nil
	}
	e.log(ctx, slog.LevelDebug, "ratelimit: request has no key; rejected", operation)
	return ErrNoKey
}

func (e *Enforcer) limited(ctx context.Context, operation string, d Decision) error {
	e.rejected.Add(1)
	e.decisions.Add(ctx, "limited")
	otelx.AddEvent(ctx, otelx.EventRateLimitLimited, e.attr,
		attribute.Bool("paved.ratelimit.dry_run", e.dryRun),
		attribute.Int64("paved.ratelimit.retry_after_ms", d.RetryAfter.Milliseconds()))
	if e.dryRun {
		e.log(ctx, slog.LevelInfo, "ratelimit: dry run: request would be limited", operation,
			slog.Duration("retry_after", d.RetryAfter))
		return nil
	}
	return &LimitError{Policy: e.name, RetryAfter: d.RetryAfter}
}

// logInterval is the least time between two log lines of one policy:
// logging every limited request would let a flood of them flood the logs
// too. The metrics count every decision.
const logInterval = time.Second

// log logs msg with the policy and operation (never the key) unless the
// policy logged less than logInterval ago, in which case it only counts
// the line as suppressed.
func (e *Enforcer) log(ctx context.Context, level slog.Level, msg, operation string, attrs ...slog.Attr) {
	logger := e.logger
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	now := time.Now().UnixNano()
	next := e.nextLog.Load()
	if now < next || !e.nextLog.CompareAndSwap(next, now+int64(logInterval)) {
		e.suppressed.Add(1)
		return
	}
	attrs = append(attrs,
		slog.String("policy", e.name),
		slog.String("operation", operation),
		slog.Int64("suppressed", e.suppressed.Swap(0)))
	logger.LogAttrs(ctx, level, msg, attrs...)
}

// isNilLimiter reports whether lim is a nil *Keyed or *Limiter in a
// non-nil interface, which would panic at the first request.
func isNilLimiter(lim Decider) bool {
	switch l := lim.(type) {
	case *Keyed:
		return l == nil
	case *Limiter:
		return l == nil
	}
	return false
}
