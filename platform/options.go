package platform

import (
	"context"
	"errors"
	"github.com/paved-go/paved/idempotency"
	"log/slog"
	"net/http"
	"sort"
	"strconv"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/tracing"
)

// Option configures Load. Options are checked by Load, which reports a
// bad one among the document's problems.
type Option interface {
	apply(c *config) error
}

type optionFunc func(c *config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// ResolverFunc finds a resource by id for authorization (see
// authz.WithResolver): the resource, or authz.ErrNotFound (or nil) when
// there is none.
type ResolverFunc func(ctx context.Context, id string) (any, error)

// PermissionFunc returns the permissions principal holds in compartment,
// for the resources form of authorization. principal is nil for an
// anonymous caller.
type PermissionFunc func(ctx context.Context, principal *authz.Principal, compartment string) ([]string, error)

type namedAuth struct {
	name string
	auth authz.Authenticator
}

type config struct {
	name            string
	handlers        map[string]http.Handler
	auths           []namedAuth
	resolvers       map[string]ResolverFunc
	permissions     PermissionFunc
	compartment     string
	sections        map[string]SectionCompiler
	validate        bool
	authzOpts       []authz.Option
	auditOpts       []audit.Option
	idempotencyOpts []idempotency.Option
	tracer          *tracing.Tracer
	transport       http.RoundTripper
	fallback        func(r *http.Request, err error) (*http.Response, error)
	upstreamWrap    func(http.RoundTripper) http.RoundTripper
	newLimiter      func(policy string, limit rate.Limit, burst int) (ratelimit.Decider, error)
	clientIP        func(*http.Request) (string, error)
	logger          *slog.Logger
	meterProvider   metric.MeterProvider
}

// WithName names the platform: the audit emitter's name and source
// (default "platform").
func WithName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("WithName: empty name")
		}
		c.name = name
		return nil
	})
}

// WithHandler serves the operation operationID with h. Every operation
// needs a handler or an x-platform upstream to proxy to; a handler for an
// operation the document does not have is a load error too.
func WithHandler(operationID string, h http.Handler) Option {
	return optionFunc(func(c *config) error {
		if h == nil {
			return errors.New("WithHandler " + strconv.Quote(operationID) + ": nil handler")
		}
		if _, dup := c.handlers[operationID]; dup {
			return errors.New("WithHandler " + strconv.Quote(operationID) + ": given twice")
		}
		c.handlers[operationID] = h
		return nil
	})
}

// WithHandlers is WithHandler for each entry of handlers, keyed by
// operationId.
func WithHandlers(handlers map[string]http.Handler) Option {
	return optionFunc(func(c *config) error {
		ids := make([]string, 0, len(handlers))
		for id := range handlers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var errs []error
		for _, id := range ids {
			if err := WithHandler(id, handlers[id]).apply(c); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// WithAuthenticator registers an authenticator under name, which
// authentication.schemes refers to. Operations that name no schemes use
// every registered authenticator, in the order registered (authz.First).
func WithAuthenticator(name string, a authz.Authenticator) Option {
	return optionFunc(func(c *config) error {
		if name == "" || a == nil {
			return errors.New("WithAuthenticator: empty name or nil authenticator")
		}
		for _, na := range c.auths {
			if na.name == name {
				return errors.New("WithAuthenticator " + strconv.Quote(name) + ": given twice")
			}
		}
		c.auths = append(c.auths, namedAuth{name, a})
		return nil
	})
}

// WithResolver registers a resolver under name, for resource(name, id) in
// authorization checks and for resources entries that name it.
func WithResolver(name string, fn ResolverFunc) Option {
	return optionFunc(func(c *config) error {
		if name == "" || fn == nil {
			return errors.New("WithResolver: empty name or nil function")
		}
		if _, dup := c.resolvers[name]; dup {
			return errors.New("WithResolver " + strconv.Quote(name) + ": given twice")
		}
		c.resolvers[name] = fn
		return nil
	})
}

// WithPermissions sets where the resources form of authorization finds
// the permissions of the caller in a resource's compartment. By default a
// principal holds its Scopes in its own Tenant's compartment and nothing
// anywhere else.
func WithPermissions(fn PermissionFunc) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return errors.New("WithPermissions: nil function")
		}
		c.permissions = fn
		return nil
	})
}

// WithCompartmentField names the field of a resolved resource that holds
// its owning compartment (default "compartment"); a resources entry's
// compartmentField overrides it.
func WithCompartmentField(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return errors.New("WithCompartmentField: empty name")
		}
		c.compartment = name
		return nil
	})
}

// WithSection compiles the x-platform section name with sc for this Load,
// in addition to those of RegisterSection.
func WithSection(name string, sc SectionCompiler) Option {
	return optionFunc(func(c *config) error {
		if err := checkSectionName(name, sc); err != nil {
			return errors.New("WithSection: " + err.Error())
		}
		if _, dup := c.sections[name]; dup {
			return errors.New("WithSection " + strconv.Quote(name) + ": given twice")
		}
		c.sections[name] = sc
		return nil
	})
}

// WithRequestValidation validates each request's parameters and body
// against its operation in the document (kin-openapi's openapi3filter)
// before authorization; a request that does not match gets 400
// problem+json whose detail names the parameter or body field.
func WithRequestValidation() Option {
	return optionFunc(func(c *config) error {
		c.validate = true
		return nil
	})
}

// WithAuthz passes options to the authz.New the platform builds, such as
// authz.WithHeaders, authz.WithMaxLookups or authz.WithOutageStatus.
// Routes, resolvers and authenticators come from the document and the
// platform's own options. Do not pass authz.WithResolverCache: it would
// keep the grants of the resources form, which depend on the caller,
// across requests; cache inside the resolvers instead.
func WithAuthz(opts ...authz.Option) Option {
	return optionFunc(func(c *config) error {
		c.authzOpts = append(c.authzOpts, opts...)
		return nil
	})
}

// WithAudit passes options to the audit.New the platform builds when an
// operation has an audit section: its sinks (audit.WithSink) above all.
// Without any, events go to an audit.NewSlogSink of the logger.
func WithAudit(opts ...audit.Option) Option {
	return optionFunc(func(c *config) error {
		c.auditOpts = append(c.auditOpts, opts...)
		return nil
	})
}

// WithIdempotency passes options to the idempotency.New of every
// operation with an idempotency section, after the section's own: above
// all idempotency.WithStore, the store the guards share (a
// redisidempotency.Store for several instances; default: one memory
// store for the platform).
func WithIdempotency(opts ...idempotency.Option) Option {
	return optionFunc(func(c *config) error {
		c.idempotencyOpts = append(c.idempotencyOpts, opts...)
		return nil
	})
}

// WithTracer sets the tracer of the handler and of upstream calls
// (default tracing.Default()).
func WithTracer(tr *tracing.Tracer) Option {
	return optionFunc(func(c *config) error {
		c.tracer = tr
		return nil
	})
}

// WithTransport sets the base transport of upstream calls, under retry,
// tracing and breaker (default: paved's pooled default transport).
func WithTransport(rt http.RoundTripper) Option {
	return optionFunc(func(c *config) error {
		c.transport = rt
		return nil
	})
}

// WithLimiters replaces how each rate-limit policy's buckets are built
// (ratelimit.NewKeyed by default) with newLimiter, given the policy name,
// its rate and its burst: redisrate.New, for buckets every instance of
// the service shares. A nil newLimiter is an error; one that fails is a
// load error at the policy's rateLimit.
func WithLimiters(newLimiter func(policy string, limit rate.Limit, burst int) (ratelimit.Decider, error)) Option {
	return optionFunc(func(c *config) error {
		if newLimiter == nil {
			return errors.New("WithLimiters: nil function")
		}
		c.newLimiter = newLimiter
		return nil
	})
}

// WithUpstreamLayer puts wrap around each proxied operation's breaker:
// calls go retry → tracing → wrap → breaker → transport, so what wrap
// refuses itself (a client-side throttle, overload.Throttle's Transport)
// never counts as a failure of the breaker, and the breaker's half-open
// probes still come from the calls wrap lets through. A nil wrap is an
// error.
func WithUpstreamLayer(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return optionFunc(func(c *config) error {
		if wrap == nil {
			return errors.New("WithUpstreamLayer: nil wrap")
		}
		c.upstreamWrap = wrap
		return nil
	})
}

// WithUpstreamFallback answers upstream calls that the breaker rejected
// or that failed (see breaker.WithTransportFallback), for example with
// the last good response; a nil response from fallback keeps the
// original outcome. Paired with WithTransport, a transport that
// remembers good answers, it serves them while the upstream is down.
func WithUpstreamFallback(fallback func(r *http.Request, err error) (*http.Response, error)) Option {
	return optionFunc(func(c *config) error {
		if fallback == nil {
			return errors.New("WithUpstreamFallback: nil function")
		}
		c.fallback = fallback
		return nil
	})
}

// WithClientIP sets how rate limits keyed by ip and audit events find a
// request's client address (default ratelimit.ClientIP, the peer;
// behind proxies use a ratelimit.Proxies' ClientIP).
func WithClientIP(fn func(*http.Request) (string, error)) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return errors.New("WithClientIP: nil function")
		}
		c.clientIP = fn
		return nil
	})
}

// WithLogger sets the logger of every package the platform builds on.
// A nil logger, the default, is slog.Default() at the time of logging.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithMeterProvider sets the MeterProvider of every package the platform
// builds on (default, and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) error {
		c.meterProvider = mp
		return nil
	})
}

func (c *config) log() *slog.Logger {
	if c.logger == nil {
		return slog.Default()
	}
	return c.logger
}
