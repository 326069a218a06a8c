package authz

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/httpx"
)

// Middleware returns next guarded by the authorizer: each request is
// authenticated as its route's mode says and decided by its route's rules
// (r.Pattern), and goes on to next, with its principal (FromContext) and
// the resources the rules looked up (Resource) in its context, only when
// allowed. It answers 401 problem+json with WWW-Authenticate built from
// the authenticators' challenges when authentication fails, 403 when the
// rules deny (without the rules' text), 413 or 400 when a rule reads a
// body that is too large or not JSON, and 503 for a lookup outage with
// WithOutageStatus(503); WithErrorHandler replaces how.
//
// Mount it inside the ServeMux, on each route, or use Mux, which does:
// mux.Handle("POST /instances", az.Middleware(launch)). Wrapped around the
// mux it sees no pattern, applies the default rules (WithDefault) to every
// request, and logs one Warn line saying so.
//
// On a nil *Authorizer (a New error ignored) it denies every request with
// 403 and logs that at Error.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	if a == nil {
		slog.Error("authz: Middleware of a nil *Authorizer: every request is denied")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, ErrDenied)
		})
	}
	if _, mux := next.(*http.ServeMux); mux {
		a.warnNoPattern()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(next, w, r) })
}

func (a *Authorizer) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Pattern == "" && !a.warned.Load() {
		a.warnNoPattern()
	}
	rt := a.routeFor(r.Pattern)
	ctx := r.Context()
	info := callinfo.From(ctx)
	if info != nil {
		info.Operation = r.Pattern
	}
	if rt.public {
		a.public(info, rt)
		next.ServeHTTP(w, r)
		return
	}
	p, aerr := a.authenticate(ctx, rt, r.Header)
	if aerr != nil {
		if err := a.unauthenticated(ctx, info, r.Pattern, aerr); err != nil {
			a.reject(w, r, err)
			return
		}
	}
	fillPrincipal(info, p)
	var ev *evaluation
	if !rt.native {
		ev = a.evaluation()
		ev.setHTTP(r, p, clock(rt.usesNow))
	}
	nctx, _, err := a.finish(ctx, rt, p, ev, info)
	if err != nil {
		a.reject(w, r, err)
		return
	}
	if nctx != ctx {
		r = r.WithContext(nctx)
	}
	next.ServeHTTP(w, r)
}

// reject answers a rejected request.
func (a *Authorizer) reject(w http.ResponseWriter, r *http.Request, err error) {
	if ce, ok := errors.AsType[*challengeError](err); ok && len(ce.challenges) == 0 {
		// A 401 must name at least one challenge (RFC 9110 section
		// 15.5.2). With no authenticator to name one (the principal was
		// to come from an outer layer, which found none), the caller is
		// refused as forbidden instead.
		err = &DenyError{Operation: r.Pattern, Reason: "no authenticated caller"}
	}
	for _, c := range Challenges(err) {
		w.Header().Add("WWW-Authenticate", c)
	}
	if a.onError != nil {
		a.onError(w, r, err)
		return
	}
	httpx.WriteError(w, r, err)
}

// warnNoPattern logs, once, that requests arrive without a pattern.
func (a *Authorizer) warnNoPattern() {
	if a.warned.Swap(true) {
		return
	}
	a.log().Warn("authz: the middleware sees requests without a ServeMux pattern, so only the default rules (WithDefault) apply; " +
		"mount it inside the ServeMux, on each route, or use (*Authorizer).NewMux")
}

// Check reports every mismatch between the served routes (patterns) and
// the rules, joined: a served route with no rules that is not public, and
// a route given rules, a mode or publicity that is not served. Call it at
// start-up with every pattern the server registers (Mux.Check does), so a
// route nobody wrote a rule for never goes live. For gRPC, authzgrpc's
// Check lists the server's methods.
func (a *Authorizer) Check(patterns ...string) error {
	if a == nil {
		return errors.New("authz: Check of a nil *Authorizer: every request would be denied")
	}
	var errs []error
	served := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		served[p] = true
		if _, ok := a.routes[p]; !ok {
			errs = append(errs, errors.New("authz: route "+strconv.Quote(p)+" has no rule (WithRoute) and is not public (WithPublic)"))
		}
	}
	var unserved []string
	for p := range a.routes {
		if !served[p] {
			unserved = append(unserved, p)
		}
	}
	slices.Sort(unserved)
	for _, p := range unserved {
		errs = append(errs, errors.New("authz: route "+strconv.Quote(p)+" has rules or is public but is not served"))
	}
	return errors.Join(errs...)
}

// Mux is an http.ServeMux whose every route is guarded by an Authorizer's
// middleware, and which remembers its patterns for Check. Build it with
// (*Authorizer).NewMux; register routes before serving.
type Mux struct {
	az       *Authorizer
	mux      *http.ServeMux
	mu       sync.Mutex
	patterns []string
}

// NewMux returns an empty Mux guarded by a.
func (a *Authorizer) NewMux() *Mux {
	return &Mux{az: a, mux: http.NewServeMux()}
}

// Handle registers h for pattern, behind the authorizer's middleware. It
// panics as http.ServeMux.Handle does on an invalid or conflicting
// pattern.
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, m.az.Middleware(h))
	m.mu.Lock()
	m.patterns = append(m.patterns, pattern)
	m.mu.Unlock()
}

// HandleFunc registers f for pattern, as Handle.
func (m *Mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// ServeHTTP routes r as http.ServeMux does.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Check is the authorizer's Check for the patterns registered so far.
func (m *Mux) Check() error {
	m.mu.Lock()
	ps := slices.Clone(m.patterns)
	m.mu.Unlock()
	return m.az.Check(ps...)
}
