package ratelimit

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Option configures a limiter (New, NewKeyed), a set of HTTP policies
// (NewPolicies) or an Enforcer (NewEnforcer). Each option says which
// constructors it applies to; passing one to another constructor is an
// error from that constructor, never a silent drop.
type Option interface{ apply(*config) }

// DefaultMaxKeys is the number of keys a Keyed limiter holds unless
// WithMaxKeys says otherwise.
const DefaultMaxKeys = 100_000

// target is the constructor an option is applied by.
type target uint8

const (
	forLimiter target = 1 << iota
	forKeyed
	forPolicies
	forEnforcer
)

func (t target) String() string {
	switch t {
	case forLimiter:
		return "New"
	case forKeyed:
		return "NewKeyed"
	case forEnforcer:
		return "NewEnforcer"
	}
	return "NewPolicies"
}

type config struct {
	target target

	// New and NewKeyed.
	maxKeys int           // keys held by a keyed limiter; DefaultMaxKeys
	maxWait time.Duration // longest Wait; < 0 means only the context deadline bounds it

	// NewPolicies and NewEnforcer.
	anonymousKey  string
	anonymous     bool
	dryRun        bool
	logger        *slog.Logger         // nil: slog.Default(), read at each use
	meterProvider metric.MeterProvider // nil: the global provider

	// NewPolicies.
	routes       []route
	headers      bool
	errorHandler func(http.ResponseWriter, *http.Request, error)
	filter       func(*http.Request) bool

	err error
}

type route struct {
	pattern string
	policy  Policy
}

func newConfig(t target, opts []Option) (config, error) {
	c := config{
		target:  t,
		maxKeys: DefaultMaxKeys,
		maxWait: -1,
		headers: true,
	}
	for i, o := range opts {
		if o == nil {
			return c, errors.New("ratelimit: option " + strconv.Itoa(i) + " is nil")
		}
		o.apply(&c)
	}
	return c, c.err
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
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

// WithMaxKeys bounds how many keys a Keyed limiter holds (NewKeyed only;
// default DefaultMaxKeys, 100,000). When it is full, a new key takes the
// place of a key whose bucket would be full by now, which is lost to no
// one; when no such key is found, the new key shares the Keyed's overflow
// bucket (see Keyed). n must be at least 1.
func WithMaxKeys(n int) Option {
	return option{"WithMaxKeys", forKeyed, func(c *config) {
		if n < 1 {
			c.fail(errors.New("ratelimit: WithMaxKeys: n must be at least 1"))
			return
		}
		c.maxKeys = n
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
// the default one (NewPolicies only). pattern is an http.ServeMux pattern
// ("POST /instances") matched against r.Pattern, which the ServeMux sets
// only for the handlers it routes to: mount the middleware inside the
// mux, on each route (mux.Handle(pattern, p.Middleware(h))). Mounted
// around the mux it sees no pattern, and it says so in one Warn log line.
// A Policy with a nil Limiter exempts the route.
func WithRoute(pattern string, p Policy) Option {
	return option{"WithRoute", forPolicies, func(c *config) {
		c.routes = append(c.routes, route{pattern, p})
	}}
}

// WithAnonymousKey makes requests whose key function fails or returns ""
// share the bucket of key instead of being rejected with ErrNoKey
// (NewPolicies and NewEnforcer). key must not be empty.
func WithAnonymousKey(key string) Option {
	return option{"WithAnonymousKey", forPolicies | forEnforcer, func(c *config) {
		if key == "" {
			c.fail(errors.New("ratelimit: WithAnonymousKey: empty key"))
			return
		}
		c.anonymousKey, c.anonymous = key, true
	}}
}

// WithDryRun turns dry-run mode on or off (NewPolicies and NewEnforcer;
// default off). In dry run every decision is made, counted and, when it
// would limit, logged (at most about once a second per policy) and added
// as a span event, but no request is limited, none is rejected for having
// no key (that is logged too) and no rate-limit header is sent, so clients
// see no difference.
func WithDryRun(on bool) Option {
	return option{"WithDryRun", forPolicies | forEnforcer, func(c *config) { c.dryRun = on }}
}

// WithHeaders turns the RateLimit and RateLimit-Policy response headers on
// or off (NewPolicies only; default on). Retry-After is always sent with a
// 429.
func WithHeaders(on bool) Option {
	return option{"WithHeaders", forPolicies, func(c *config) { c.headers = on }}
}

// WithErrorHandler replaces how the middleware answers a request it
// rejects (NewPolicies only). h gets a *LimitError (429) or ErrNoKey
// (400). The Retry-After, RateLimit and RateLimit-Policy headers are
// already set when h runs. The default writes RFC 9457 problem+json with
// the error's status.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return option{"WithErrorHandler", forPolicies, func(c *config) {
		if h == nil {
			c.fail(errors.New("ratelimit: WithErrorHandler: nil handler"))
			return
		}
		c.errorHandler = h
	}}
}

// WithFilter exempts requests for which keep returns false, such as health
// checks, from rate limiting (NewPolicies only). A nil keep is an error,
// as it is for every paved WithFilter.
func WithFilter(keep func(*http.Request) bool) Option {
	return option{"WithFilter", forPolicies, func(c *config) {
		if keep == nil {
			c.fail(errors.New("ratelimit: WithFilter: nil function"))
			return
		}
		c.filter = keep
	}}
}

// WithLogger sets the logger for dry-run decisions, limiter failures and
// mounting mistakes (NewPolicies and NewEnforcer). The default, and a nil
// l, is slog.Default() at the time of logging. Keys (client addresses,
// API keys) are never logged.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", forPolicies | forEnforcer, func(c *config) { c.logger = l }}
}

// WithMeterProvider sets the MeterProvider for paved.ratelimit.decisions
// and paved.ratelimit.overflow (NewPolicies and NewEnforcer; default, and
// for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return option{"WithMeterProvider", forPolicies | forEnforcer, func(c *config) { c.meterProvider = mp }}
}
