package authz

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Options of New and Compile.

// WithMaxNodes caps the size of an expression, in syntax tree nodes
// (default 1000). An expression beyond it does not compile.
func WithMaxNodes(n int) Option {
	return newOption("WithMaxNodes", forNew|forCompile, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMaxNodes: " + strconv.Itoa(n) + " is not positive")
		}
		c.policy.maxNodes = uint(n)
		return nil
	})
}

// WithMemoryBudget caps what one evaluation may build (expr's memory
// budget, in its units: roughly elements of the lists and maps it makes;
// default 1,000,000). An evaluation beyond it fails, and its rule denies.
func WithMemoryBudget(n int) Option {
	return newOption("WithMemoryBudget", forNew|forCompile, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMemoryBudget: " + strconv.Itoa(n) + " is not positive")
		}
		c.policy.memoryBudget = uint(n)
		return nil
	})
}

// WithHeaders names the request headers expressions may read with
// request.header(name); by default none. A constant name outside the list
// does not compile; a computed one reads "".
func WithHeaders(names ...string) Option {
	return newOption("WithHeaders", forNew|forCompile, func(c *config) error {
		for _, n := range names {
			if n == "" {
				return errors.New("authz: WithHeaders: empty header name")
			}
		}
		c.policy.headers = append(c.policy.headers, names...)
		return nil
	})
}

// WithResolver registers how resource(kind, id) finds resources of a
// kind. fn gets the request's context and the id as a string (a JSON
// number id is formatted without a fraction); it returns ErrNotFound (or
// a nil resource) when there is none. Its results are kept for the rest
// of the request; each kind's calls go through a circuit breaker named
// "authz.resource.<kind>" (breaker defaults; ErrNotFound counts as
// success).
func WithResolver(kind string, fn func(ctx context.Context, id string) (any, error)) Option {
	return newOption("WithResolver", forNew|forCompile, func(c *config) error {
		if kind == "" || fn == nil {
			return errors.New("authz: WithResolver: empty kind or nil function")
		}
		for _, r := range c.policy.resolvers {
			if r.kind == kind {
				return errors.New("authz: WithResolver: kind " + strconv.Quote(kind) + " given twice")
			}
		}
		c.policy.resolvers = append(c.policy.resolvers, resolverSpec{kind: kind, fn: fn})
		return nil
	})
}

// WithResolverCache keeps resolved resources for ttl across requests, in
// a paved cache per kind (coalesced loads; errors are not kept), which
// Close releases. By default (0) every request looks its resources up
// afresh. Decisions are never cached, only resources. It applies to New
// only.
func WithResolverCache(ttl time.Duration) Option {
	return newOption("WithResolverCache", forNew, func(c *config) error {
		if ttl < 0 {
			return errors.New("authz: WithResolverCache: negative ttl")
		}
		c.policy.cacheTTL = ttl
		return nil
	})
}

// WithMaxLookups caps the resolver calls of one request (default 100);
// memoized results do not count. Past the cap, resource() fails and its
// rule denies.
func WithMaxLookups(n int) Option {
	return newOption("WithMaxLookups", forNew|forCompile, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMaxLookups: " + strconv.Itoa(n) + " is not positive")
		}
		c.policy.maxLookups = n
		return nil
	})
}

// WithMaxBodyBytes caps the request body a rule using request.body reads
// (default 1 MiB). A larger body is answered 413 with ErrBodyTooLarge.
func WithMaxBodyBytes(n int64) Option {
	return newOption("WithMaxBodyBytes", forNew|forCompile, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMaxBodyBytes: " + strconv.FormatInt(n, 10) + " is not positive")
		}
		c.policy.maxBodyBytes = n
		return nil
	})
}

// WithMaxBodyDepth caps how deep arrays and objects of request.body may
// nest (default 32). A deeper body is answered 400 with ErrBadBody.
func WithMaxBodyDepth(n int) Option {
	return newOption("WithMaxBodyDepth", forNew|forCompile, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMaxBodyDepth: " + strconv.Itoa(n) + " is not positive")
		}
		c.policy.maxBodyDepth = n
		return nil
	})
}

// WithAuthenticator sets the authenticators of New, tried in order: the
// first that does not return ErrNoCredentials decides. A request whose
// context already holds a principal (WithPrincipal, by an outer
// middleware) is not authenticated again.
func WithAuthenticator(auths ...Authenticator) Option {
	return newOption("WithAuthenticator", forNew, func(c *config) error {
		for _, a := range auths {
			if a == nil {
				return errors.New("authz: WithAuthenticator: nil authenticator")
			}
		}
		c.authorizer.auths = append(c.authorizer.auths, auths...)
		return nil
	})
}

// WithRoute sets the rules of the route pattern: an http.ServeMux pattern
// such as "POST /instances/{id}/terminate", or a gRPC full method such as
// "/pkg.Service/Method" for authzgrpc. At least one rule is needed; a
// route whose rules allow nothing denies everything.
func WithRoute(pattern string, rules ...Rule) Option {
	return newOption("WithRoute", forNew, func(c *config) error {
		if pattern == "" || len(rules) == 0 {
			return errors.New("authz: WithRoute " + strconv.Quote(pattern) + ": empty pattern or no rule")
		}
		c.authorizer.routes = append(c.authorizer.routes, routeSpec{pattern: pattern, rules: rules})
		return nil
	})
}

// WithPublic marks route patterns public: no authentication (a credential
// is not even looked at) and no rule; every request is allowed.
func WithPublic(patterns ...string) Option {
	return newOption("WithPublic", forNew, func(c *config) error {
		c.authorizer.public = append(c.authorizer.public, patterns...)
		return nil
	})
}

// Mode says whether a route needs an authenticated caller.
type Mode uint8

// The authentication modes.
const (
	// Required, the default, answers 401 to a request without a valid
	// credential.
	Required Mode = iota
	// Optional authenticates a request that carries a credential (an
	// invalid one is 401) and lets one without through as anonymous.
	Optional
	// None ignores credentials: every request is anonymous.
	None
)

// String returns "required", "optional" or "none".
func (m Mode) String() string {
	switch m {
	case Required:
		return "required"
	case Optional:
		return "optional"
	case None:
		return "none"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// WithAuthentication sets the authentication mode of route patterns
// (which still need rules: WithRoute). Rules see an anonymous caller as
// the zero Principal.
func WithAuthentication(mode Mode, patterns ...string) Option {
	return newOption("WithAuthentication", forNew, func(c *config) error {
		if mode > None {
			return errors.New("authz: WithAuthentication: unknown mode " + mode.String())
		}
		for _, p := range patterns {
			c.authorizer.modes = append(c.authorizer.modes, modeSpec{pattern: p, mode: mode})
		}
		return nil
	})
}

// WithDefault sets the rules of requests whose route has none: those
// outside a ServeMux (no pattern) and gRPC methods without WithRoute. By
// default there are none, and such requests are denied.
func WithDefault(rules ...Rule) Option {
	return newOption("WithDefault", forNew, func(c *config) error {
		c.authorizer.def = append(c.authorizer.def, rules...)
		return nil
	})
}

// WithDryRun, when on, decides every request as usual, logs (at Info, at
// most a line a second, saying how many it left out) and counts the
// denials, and lets them through: for rolling out rules. An
// authentication failure is let through too, as an anonymous caller;
// bodies that are too large or not JSON make their rules fail, which
// counts as a denial.
func WithDryRun(on bool) Option {
	return newOption("WithDryRun", forNew, func(c *config) error {
		c.authorizer.dryRun = on
		return nil
	})
}

// WithErrorHandler replaces how the middleware answers a request it
// rejects (default: the problem+json writer, httpx.WriteError, which the
// root package exports as paved.WriteError). err unwraps to
// ErrUnauthenticated (401; the WWW-Authenticate header is already set),
// ErrDenied (a *DenyError, 403), ErrUnavailable (503), ErrBodyTooLarge
// (413) or ErrBadBody (400).
func WithErrorHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return newOption("WithErrorHandler", forNew, func(c *config) error {
		c.authorizer.onError = fn
		return nil
	})
}

// WithOutageStatus sets the answer to a request denied because a
// resolver failed (an error other than ErrNotFound, or an open breaker):
// http.StatusForbidden (the default: a denial like any other) or
// http.StatusServiceUnavailable (ErrUnavailable, so clients retry later).
func WithOutageStatus(status int) Option {
	return newOption("WithOutageStatus", forNew, func(c *config) error {
		if status != http.StatusForbidden && status != http.StatusServiceUnavailable {
			return errors.New("authz: WithOutageStatus: " + strconv.Itoa(status) + " is neither 403 nor 503")
		}
		c.authorizer.outageStatus = status
		return nil
	})
}
