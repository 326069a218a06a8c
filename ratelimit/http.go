package ratelimit

import (
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/httpx"
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
	// Key picks a request's bucket. nil means ClientIP, except with a
	// *Limiter, whose one bucket serves every caller: no key is computed
	// for it, and no request is rejected for having none.
	Key KeyFunc
}

// Policies is a default Policy and its per-route overrides, ready to
// serve as HTTP middleware. Build it with NewPolicies; it is safe for
// concurrent use, and one Policies may wrap many handlers, which then
// share its buckets.
type Policies struct {
	def     *httpPolicy            // nil: only the routes are limited
	routes  map[string]*httpPolicy // by pattern; a nil policy exempts the route
	filter  func(*http.Request) bool
	headers bool
	onError func(http.ResponseWriter, *http.Request, error)
	logger  *slog.Logger // nil: slog.Default()
	warned  atomic.Bool  // the routes-outside-the-mux warning was logged
}

// httpPolicy is a Policy ready to serve: its enforcer, and its header
// values built once.
type httpPolicy struct {
	*Enforcer
	key       KeyFunc // nil: the limiter has one bucket and needs no key
	advertise bool    // false for an unlimited quota, which has nothing to say
	policyHdr []string
	values    *valueCache
}

// NewPolicies returns the policies that limit HTTP requests: the policy
// WithRoute gives a request's route (r.Pattern), or else def. A def with
// a nil Limiter limits only the routes; at least one policy must have a
// limiter. Every policy's name must be printable ASCII and not empty. It
// accepts WithRoute, WithAnonymousKey, WithDryRun, WithHeaders,
// WithErrorHandler, WithFilter, WithLogger and WithMeterProvider; there is
// no package-level Middleware, because no rate is a safe default.
func NewPolicies(def Policy, opts ...Option) (*Policies, error) {
	c, err := newConfig(forPolicies, opts)
	if err != nil {
		return nil, err
	}
	ps := &Policies{
		filter:  c.filter,
		headers: c.headers && !c.dryRun,
		onError: c.errorHandler,
		logger:  c.logger,
	}
	if ps.onError == nil {
		ps.onError = httpx.WriteError
	}
	if ps.def, err = compile(def, &c, "NewPolicies: default policy"); err != nil {
		return nil, err
	}
	limited := ps.def != nil
	for _, rt := range c.routes {
		if err := checkPattern(rt.pattern); err != nil {
			return nil, err
		}
		if _, dup := ps.routes[rt.pattern]; dup {
			return nil, errors.New("ratelimit: WithRoute: pattern " + rt.pattern + " given twice")
		}
		p, err := compile(rt.policy, &c, "WithRoute "+rt.pattern)
		if err != nil {
			return nil, err
		}
		if ps.routes == nil {
			ps.routes = make(map[string]*httpPolicy, len(c.routes))
		}
		ps.routes[rt.pattern] = p
		limited = limited || p != nil
	}
	if !limited {
		return nil, errors.New("ratelimit: NewPolicies: no policy has a limiter")
	}
	if ps.def != nil {
		ps.def.register("")
	}
	for pattern, p := range ps.routes {
		if p != nil {
			p.register(pattern)
		}
	}
	return ps, nil
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

// compile builds p's enforcer with the settings NewPolicies was given
// (dry run, anonymous key, logger, MeterProvider).
func compile(p Policy, c *config, what string) (*httpPolicy, error) {
	if p.Limiter == nil {
		return nil, nil
	}
	e, err := newEnforcer(c, p.Name, p.Limiter, what)
	if err != nil {
		return nil, err
	}
	q := p.Limiter.Quota()
	hp := &httpPolicy{
		Enforcer:  e,
		key:       p.Key,
		advertise: q.Limit != rate.Inf && q.Limit > 0 && q.Burst > 0,
		policyHdr: []string{policyValue(p.Name, q)},
		values:    newValueCache(p.Name),
	}
	if _, one := p.Limiter.(*Limiter); hp.key == nil && !one {
		hp.key = ClientIP
	}
	return hp, nil
}

// Middleware returns next limited by the policies: every request takes a
// token from the bucket its policy's key picks. An allowed request goes on
// to next with RateLimit and RateLimit-Policy headers set; a limited one
// gets 429 problem+json with Retry-After and the same headers (see
// WithErrorHandler). A request whose key function fails or returns "" gets
// 400 and ErrNoKey, unless WithAnonymousKey names a shared bucket. When the
// limiter itself fails (a store is unreachable) the request is let through
// and the failure logged: a broken limiter never takes the service down.
//
// Route policies (WithRoute) match r.Pattern, which only the handlers an
// http.ServeMux routes to see, so mount the middleware inside the mux, on
// each route: mux.Handle("POST /instances", p.Middleware(launch)). Wrapped
// around the mux, it applies the default policy to every request and logs
// one Warn line saying that the route policies never apply. Stacking two
// middlewares (per client address, then per API key) applies both
// policies, and both show in the headers.
//
// On a nil *Policies (a NewPolicies error ignored) it limits nothing: it
// logs that at Error (slog.Default()) and returns next.
func (ps *Policies) Middleware(next http.Handler) http.Handler {
	if ps == nil {
		slog.Error("ratelimit: Middleware of a nil *Policies: requests are not rate limited")
		return next
	}
	if _, mux := next.(*http.ServeMux); mux && ps.routes != nil {
		ps.warnNoPattern()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ps.serve(next, w, r) })
}

// oneBucket is the key of requests to a policy whose limiter has one
// bucket: the limiter ignores it, and it is never empty.
const oneBucket = "*"

func (ps *Policies) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	p := ps.def
	if ps.routes != nil {
		if rp, ok := ps.routes[r.Pattern]; ok {
			p = rp
		} else if r.Pattern == "" && !ps.warned.Load() {
			ps.warnNoPattern()
		}
	}
	if p == nil || (ps.filter != nil && !ps.filter(r)) {
		next.ServeHTTP(w, r)
		return
	}
	key := oneBucket
	if p.key != nil {
		var err error
		if key, err = p.key(r); err != nil {
			key = "" // not the error's text: it may quote the header it failed on
		}
	}
	if !ps.headers || !p.advertise {
		// Without headers to send, an allowed request needs no Decision,
		// which saves the in-memory limiters a lock.
		if err := p.Allow(r.Context(), r.Pattern, key); err != nil {
			ps.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	d, err := p.Check(r.Context(), r.Pattern, key)
	if err != nil {
		if _, limited := err.(*LimitError); limited {
			p.setHeaders(w.Header(), d)
		}
		ps.reject(w, r, err)
		return
	}
	if d.Allowed {
		p.setHeaders(w.Header(), d)
	}
	next.ServeHTTP(w, r)
}

// reject answers a request the policy rejected with err, a *LimitError or
// ErrNoKey.
func (ps *Policies) reject(w http.ResponseWriter, r *http.Request, err error) {
	if le, ok := err.(*LimitError); ok {
		w.Header().Set("Retry-After", httpx.RetryAfterSeconds(le.RetryAfter))
	}
	ps.onError(w, r, err)
}

// warnNoPattern logs, once, that the route policies cannot apply.
func (ps *Policies) warnNoPattern() {
	if ps.warned.Swap(true) {
		return
	}
	logger := ps.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("ratelimit: the middleware sees requests without a ServeMux pattern, so its WithRoute policies never apply; " +
		"mount it inside the ServeMux, on each route: mux.Handle(pattern, policies.Middleware(h))")
}

func (p *httpPolicy) setHeaders(h http.Header, d Decision) {
	addValues(h, headerRateLimitPolicy, p.policyHdr)
	addValues(h, headerRateLimit, p.values.get(d))
}
