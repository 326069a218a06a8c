package ratelimit

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Option configures a limiter (New, NewKeyed) or the HTTP middleware
// (Middleware). Each option says which constructors it applies to; passing
// one to another constructor is an error from that constructor.
type Option interface{ apply(*config) }

// DefaultCapacity is the number of keys a keyed limiter holds unless
// WithCapacity says otherwise.
const DefaultCapacity = 100_000

// target is the set of constructors an option applies to.
type target uint8

const (
	forLimiter target = 1 << iota
	forKeyed
	forMiddleware
)

func (t target) String() string {
	switch t {
	case forLimiter:
		return "New"
	case forKeyed:
		return "NewKeyed"
	}
	return "Middleware"
}

type config struct {
	target target

	// New and NewKeyed.
	capacity int           // keys held by a keyed limiter; DefaultCapacity
	maxWait  time.Duration // longest Wait; < 0 means only the context deadline bounds it

	// Middleware.
	routes         []route
	anonymousKey   string
	anonymous      bool
	dryRun         bool
	headers        bool
	errorHandler   func(http.ResponseWriter, *http.Request, error)
	filter         func(*http.Request) bool
	logger         *slog.Logger
	meterProvider  metric.MeterProvider // nil means the global provider
	tracerProvider trace.TracerProvider

	err error
}

type route struct {
	pattern string
	policy  Policy
}

func newConfig(t target, opts []Option) (config, error) {
	c := config{
		target:   t,
		capacity: DefaultCapacity,
		maxWait:  -1,
		headers:  true,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c, c.err
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// spanEvents reports whether limited decisions become span events: always,
// unless WithTracerProvider was given a no-op provider.
func (c *config) spanEvents() bool {
	_, isNoop := c.tracerProvider.(tracenoop.TracerProvider)
	return !isNoop
}

type option struct {
	name    string
	targets target
	fn      func(*config)
}

func (o option) apply(c *config) {
	if o.targets&c.target == 0 {
		c.fail(errors.New("ratelimit: " + o.name + " does not apply to " + c.target.String()))
		return
	}
	o.fn(c)
}

// WithCapacity sets how many keys a keyed limiter holds (NewKeyed only;
// default DefaultCapacity, 100,000). Past it the least recently used key is
// evicted; it comes back with a full bucket, as an idle key would have.
// capacity must be at least 1.
func WithCapacity(capacity int) Option {
	return option{"WithCapacity", forKeyed, func(c *config) {
		if capacity < 1 {
			c.fail(errors.New("ratelimit: WithCapacity: capacity must be at least 1"))
			return
		}
		c.capacity = capacity
	}}
}

// WithMaxWait bounds how long Wait waits for tokens (New and NewKeyed).
// When the wait would be longer, Wait returns a *LimitError at once. Zero
// makes Wait fail fast whenever no token is available now. By default only
// the context's deadline bounds a wait. d must not be negative.
func WithMaxWait(d time.Duration) Option {
	return option{"WithMaxWait", forLimiter | forKeyed, func(c *config) {
		if d < 0 {
			c.fail(errors.New("ratelimit: WithMaxWait: negative duration"))
			return
		}
		c.maxWait = d
	}}
}

// WithRoute gives requests routed to pattern their own policy instead of
// the default one (Middleware only). pattern is an http.ServeMux pattern
// ("POST /instances") matched against r.Pattern, so the middleware must run
// inside the mux (mux.Handle(pattern, mw(h))) for it to apply. A Policy
// with a nil Limiter exempts the route.
func WithRoute(pattern string, p Policy) Option {
	return option{"WithRoute", forMiddleware, func(c *config) {
		c.routes = append(c.routes, route{pattern, p})
	}}
}

// WithAnonymousKey makes requests whose key function fails or returns ""
// share the bucket of key instead of being rejected with 400 and ErrNoKey
// (Middleware only). key must not be empty.
func WithAnonymousKey(key string) Option {
	return option{"WithAnonymousKey", forMiddleware, func(c *config) {
		if key == "" {
			c.fail(errors.New("ratelimit: WithAnonymousKey: empty key"))
			return
		}
		c.anonymousKey, c.anonymous = key, true
	}}
}

// WithDryRun turns dry-run mode on or off (Middleware only; default off).
// In dry run every decision is made, counted and, when it would limit,
// logged (at most about once a second per policy) and added as a span
// event, but no request is limited, none is rejected for having no key
// (that is logged too) and no rate-limit header is sent, so clients see
// no difference.
func WithDryRun(on bool) Option {
	return option{"WithDryRun", forMiddleware, func(c *config) { c.dryRun = on }}
}

// WithHeaders turns the RateLimit and RateLimit-Policy response headers on
// or off (Middleware only; default on). Retry-After is always sent with a
// 429.
func WithHeaders(on bool) Option {
	return option{"WithHeaders", forMiddleware, func(c *config) { c.headers = on }}
}

// WithErrorHandler replaces how the middleware answers a request it
// rejects (Middleware only). h gets a *LimitError (429) or ErrNoKey
// (400). The Retry-After, RateLimit and RateLimit-Policy
// headers are already set when h runs. The default writes RFC 9457
// problem+json with the error's status.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return option{"WithErrorHandler", forMiddleware, func(c *config) {
		if h == nil {
			c.fail(errors.New("ratelimit: WithErrorHandler: nil handler"))
			return
		}
		c.errorHandler = h
	}}
}

// WithFilter exempts requests for which keep returns false, such as health
// checks, from rate limiting (Middleware only).
func WithFilter(keep func(*http.Request) bool) Option {
	return option{"WithFilter", forMiddleware, func(c *config) { c.filter = keep }}
}

// WithLogger sets the logger for dry-run decisions and limiter failures
// (Middleware only; default slog.Default(), read at each use). Keys (client
// addresses, API keys) are never logged.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", forMiddleware, func(c *config) { c.logger = l }}
}

// WithMeterProvider sets the MeterProvider for paved.ratelimit.decisions
// (Middleware only; default the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return option{"WithMeterProvider", forMiddleware, func(c *config) {
		if mp == nil {
			c.fail(errors.New("ratelimit: WithMeterProvider: nil provider"))
			return
		}
		c.meterProvider = mp
	}}
}

// WithTracerProvider is accepted for symmetry with the other paved packages
// (Middleware only). The middleware starts no spans: it adds a
// ratelimit.limited event to the span already in the request's context,
// whichever provider started it. A no-op provider
// (go.opentelemetry.io/otel/trace/noop) turns those events off.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return option{"WithTracerProvider", forMiddleware, func(c *config) {
		if tp == nil {
			c.fail(errors.New("ratelimit: WithTracerProvider: nil provider"))
			return
		}
		c.tracerProvider = tp
	}}
}
