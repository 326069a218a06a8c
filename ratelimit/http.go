package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/otelx"
)

// Policy is a named rate limit for HTTP requests: the limiter that holds
// the buckets and the key function that picks a request's bucket.
type Policy struct {
	// Name identifies the policy in the RateLimit and RateLimit-Policy
	// headers and as the paved.ratelimit.policy metric attribute. It must
	// be printable ASCII and not empty, unless Limiter is nil.
	Name string
	// Limiter holds the buckets, usually a *Keyed. A nil Limiter limits
	// nothing.
	Limiter Decider
	// Key picks a request's bucket. nil means ClientIP.
	Key KeyFunc
}

// Middleware returns middleware that takes a token for every request from
// the bucket its policy's key picks: the policy WithRoute gives the
// request's route (r.Pattern), or else def. An allowed request goes on to
// the next handler with RateLimit and RateLimit-Policy headers set; a
// limited one gets 429 problem+json with Retry-After and the same headers
// (see WithErrorHandler). A request whose key function fails or returns ""
// gets 400 and ErrNoKey, unless WithAnonymousKey names a shared bucket.
// When the limiter itself fails (a store is unreachable) the request is
// let through and the failure logged: a broken limiter never takes the
// service down.
//
// Every decision counts in paved.ratelimit.decisions, and a limited one
// adds a ratelimit.limited event to the request's span. Stacking two
// middlewares (per client address, then per API key) applies both
// policies, and both show in the headers.
//
// It accepts WithRoute, WithAnonymousKey, WithDryRun, WithHeaders,
// WithErrorHandler, WithFilter, WithLogger, WithMeterProvider and
// WithTracerProvider.
func Middleware(def Policy, opts ...Option) (func(http.Handler) http.Handler, error) {
	c, err := newConfig(forMiddleware, opts)
	if err != nil {
		return nil, err
	}
	l := &limits{
		filter:       c.filter,
		anonymousKey: c.anonymousKey,
		anonymous:    c.anonymous,
		dryRun:       c.dryRun,
		headers:      c.headers && !c.dryRun,
		events:       c.spanEvents(),
		onError:      c.errorHandler,
		logger:       c.logger,
	}
	if l.onError == nil {
		l.onError = httpx.WriteError
	}
	if l.def, err = compile(&c, def, "default policy"); err != nil {
		return nil, err
	}
	limited := l.def != nil
	for _, rt := range c.routes {
		if err := checkPattern(rt.pattern); err != nil {
			return nil, err
		}
		if _, dup := l.routes[rt.pattern]; dup {
			return nil, errors.New("ratelimit: WithRoute: pattern " + rt.pattern + " given twice")
		}
		p, err := compile(&c, rt.policy, "route "+rt.pattern)
		if err != nil {
			return nil, err
		}
		if l.routes == nil {
			l.routes = make(map[string]*policy, len(c.routes))
		}
		l.routes[rt.pattern] = p
		limited = limited || p != nil
	}
	if !limited {
		return nil, errors.New("ratelimit: Middleware: no policy has a limiter")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serve(next, w, r) })
	}, nil
}

// checkPattern reports whether pattern is one http.ServeMux accepts.
func checkPattern(pattern string) (err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("ratelimit: WithRoute: " + pattern + " is not a valid ServeMux pattern")
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return nil
}

// policy is a Policy ready to serve: its header values and metric built
// once.
type policy struct {
	name       string
	lim        Decider
	key        KeyFunc
	advertise  bool     // false for an unlimited quota, which has nothing to say
	policyHdr  []string // the RateLimit-Policy value, shared by every response
	rlPrefix   string   // `"name";r=`
	decisions  *otelx.Counter
	attr       attribute.KeyValue
	nextLog    atomic.Int64 // unix nanoseconds before which nothing is logged
	suppressed atomic.Int64 // log lines skipped since the last one
}

func compile(c *config, p Policy, what string) (*policy, error) {
	if p.Limiter == nil {
		return nil, nil
	}
	if !validPolicyName(p.Name) {
		return nil, errors.New("ratelimit: " + what + ": name must be printable ASCII and not empty")
	}
	decisions, err := otelx.RateLimitDecisions(c.meterProvider, p.Name)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	q := p.Limiter.Quota()
	cp := &policy{
		name:      p.Name,
		lim:       p.Limiter,
		key:       p.Key,
		advertise: q.Limit != rate.Inf && q.Limit > 0 && q.Burst > 0,
		policyHdr: []string{policyValue(p.Name, q)},
		rlPrefix:  rateLimitPrefix(p.Name),
		decisions: decisions,
		attr:      attribute.String(otelx.AttrRateLimitPolicy, p.Name),
	}
	if cp.key == nil {
		cp.key = ClientIP
	}
	return cp, nil
}

type limits struct {
	def          *policy            // nil: only the routes are limited
	routes       map[string]*policy // by pattern; a nil policy exempts the route
	filter       func(*http.Request) bool
	anonymousKey string
	anonymous    bool
	dryRun       bool
	headers      bool
	events       bool
	onError      func(http.ResponseWriter, *http.Request, error)
	logger       *slog.Logger // nil: slog.Default()
}

func (l *limits) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	p := l.def
	if l.routes != nil {
		if rp, ok := l.routes[r.Pattern]; ok {
			p = rp
		}
	}
	if p == nil || (l.filter != nil && !l.filter(r)) {
		next.ServeHTTP(w, r)
		return
	}
	key, err := p.key(r)
	if err != nil || key == "" {
		if !l.anonymous {
			if l.dryRun {
				l.log(r.Context(), p, slog.LevelInfo, "ratelimit: dry run: request has no key and would be rejected", r)
				next.ServeHTTP(w, r)
				return
			}
			if err != nil {
				// Not the error's text: it may quote the header it failed on.
				l.log(r.Context(), p, slog.LevelDebug, "ratelimit: key function failed; request rejected", r)
			}
			l.onError(w, r, ErrNoKey)
			return
		}
		key = l.anonymousKey
	}
	ctx := r.Context()
	d, err := p.lim.Decide(ctx, key, 1)
	if err != nil {
		l.log(ctx, p, slog.LevelWarn, "ratelimit: limiter failed; request let through", r,
			slog.String("error", err.Error()))
		next.ServeHTTP(w, r)
		return
	}
	if d.Allowed {
		p.decisions.Add(ctx, "allowed")
		if l.headers && p.advertise {
			p.setHeaders(w.Header(), d)
		}
		next.ServeHTTP(w, r)
		return
	}
	p.decisions.Add(ctx, "limited")
	if l.events {
		otelx.AddEvent(ctx, otelx.EventRateLimitLimited, p.attr,
			attribute.Bool("paved.ratelimit.dry_run", l.dryRun),
			attribute.Int64("paved.ratelimit.retry_after_ms", d.RetryAfter.Milliseconds()))
	}
	if l.dryRun {
		l.log(ctx, p, slog.LevelInfo, "ratelimit: dry run: request would be limited", r,
			slog.Duration("retry_after", d.RetryAfter))
		next.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	if l.headers && p.advertise {
		p.setHeaders(h, d)
	}
	h.Set("Retry-After", httpx.RetryAfterSeconds(d.RetryAfter))
	l.onError(w, r, &LimitError{Policy: p.name, RetryAfter: d.RetryAfter})
}

func (p *policy) setHeaders(h http.Header, d Decision) {
	addValues(h, headerRateLimitPolicy, p.policyHdr)
	v := rateLimitValue(p.rlPrefix, d)
	if old := h[headerRateLimit]; len(old) > 0 {
		h[headerRateLimit] = append(old, v)
		return
	}
	h[headerRateLimit] = []string{v}
}

// logInterval is the least time between two log lines of one policy:
// logging every limited request would let a flood of them flood the logs
// too. The metrics count every decision.
const logInterval = time.Second

// log logs msg with the policy and route (never the key) unless the
// policy logged less than logInterval ago, in which case it only counts
// the line as suppressed.
func (l *limits) log(ctx context.Context, p *policy, level slog.Level, msg string, r *http.Request, attrs ...slog.Attr) {
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
		slog.String("route", r.Pattern),
		slog.Int64("suppressed", p.suppressed.Swap(0)))
	logger.LogAttrs(ctx, level, msg, attrs...)
}
