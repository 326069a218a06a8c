package ratelimitgrpc

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-go/paved/ratelimit"
)

// Option configures the server interceptors (New). A bad option is an
// error from New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	methods []method
	filter  func(ctx context.Context, fullMethod string) bool
	// The options every policy's ratelimit.Enforcer is built with: package
	// ratelimit validates them and holds the one implementation.
	enforcer []ratelimit.Option
	err      error
}

type method struct {
	name   string
	policy Policy
}

func newConfig(opts []Option) (config, error) {
	var c config
	for i, o := range opts {
		if o == nil {
			return c, errors.New("ratelimitgrpc: option " + strconv.Itoa(i) + " is nil")
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

// WithMethod gives calls of one method, or of every method of a service,
// their own policy instead of the default one. name is a full method
// ("/grpc.health.v1.Health/Check") or a service followed by a slash
// ("/grpc.health.v1.Health/"); a full method's policy wins over its
// service's. A Policy with a nil Limiter exempts the calls.
func WithMethod(name string, p Policy) Option {
	return optionFunc(func(c *config) {
		if !strings.HasPrefix(name, "/") || strings.Count(name, "/") != 2 {
			c.fail(errors.New("ratelimitgrpc: WithMethod: " + name + ` is neither "/service/method" nor "/service/"`))
			return
		}
		c.methods = append(c.methods, method{name, p})
	})
}

// WithAnonymousKey makes calls whose key function fails or returns "" share
// the bucket of key instead of failing with INVALID_ARGUMENT
// (ratelimit.ErrNoKey). key must not be empty.
func WithAnonymousKey(key string) Option {
	return optionFunc(func(c *config) {
		if key == "" { // checked here, so the error names this package's option
			c.fail(errors.New("ratelimitgrpc: WithAnonymousKey: empty key"))
			return
		}
		c.enforcer = append(c.enforcer, ratelimit.WithAnonymousKey(key))
	})
}

// WithDryRun turns dry-run mode on or off (default off): every decision is
// made, counted and, when it would limit, logged (at most about once a
// second per policy) and added as a span event, but no call is limited,
// nor rejected for having no key (that is logged too).
func WithDryRun(on bool) Option {
	return optionFunc(func(c *config) { c.enforcer = append(c.enforcer, ratelimit.WithDryRun(on)) })
}

// WithFilter exempts calls for which keep returns false, such as health
// checks, from rate limiting. A nil keep is an error from New.
func WithFilter(keep func(ctx context.Context, fullMethod string) bool) Option {
	return optionFunc(func(c *config) {
		if keep == nil {
			c.fail(errors.New("ratelimitgrpc: WithFilter: nil function"))
			return
		}
		c.filter = keep
	})
}

// WithLogger sets the logger for dry-run decisions and limiter failures.
// The default, and a nil l, is slog.Default() at the time of logging. Keys
// are never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.enforcer = append(c.enforcer, ratelimit.WithLogger(l)) })
}

// WithMeterProvider sets the MeterProvider for paved.ratelimit.decisions
// and paved.ratelimit.overflow (default, and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.enforcer = append(c.enforcer, ratelimit.WithMeterProvider(mp)) })
}
