package ratelimitgrpc

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Option configures the server interceptors.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	methods        []method
	anonymousKey   string
	anonymous      bool
	dryRun         bool
	filter         func(ctx context.Context, fullMethod string) bool
	logger         *slog.Logger // nil: slog.Default(), read at each use
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
	err            error
}

type method struct {
	name   string
	policy Policy
}

func newConfig(opts []Option) (config, error) {
	var c config
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
		if key == "" {
			c.fail(errors.New("ratelimitgrpc: WithAnonymousKey: empty key"))
			return
		}
		c.anonymousKey, c.anonymous = key, true
	})
}

// WithDryRun turns dry-run mode on or off (default off): every decision is
// made, counted and, when it would limit, logged (at most about once a
// second per policy) and added as a span event, but no call is limited,
// nor rejected for having no key (that is logged too).
func WithDryRun(on bool) Option {
	return optionFunc(func(c *config) { c.dryRun = on })
}

// WithFilter exempts calls for which keep returns false, such as health
// checks, from rate limiting.
func WithFilter(keep func(ctx context.Context, fullMethod string) bool) Option {
	return optionFunc(func(c *config) { c.filter = keep })
}

// WithLogger sets the logger for dry-run decisions and limiter failures
// (default slog.Default(), read at each use). Keys are never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for paved.ratelimit.decisions
// (default the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp == nil {
			c.fail(errors.New("ratelimitgrpc: WithMeterProvider: nil provider"))
			return
		}
		c.meterProvider = mp
	})
}

// WithTracerProvider is accepted for symmetry with the other paved
// packages. The interceptors start no spans: they add a ratelimit.limited
// event to the span already in the call's context. A no-op provider
// (go.opentelemetry.io/otel/trace/noop) turns those events off.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp == nil {
			c.fail(errors.New("ratelimitgrpc: WithTracerProvider: nil provider"))
			return
		}
		c.tracerProvider = tp
	})
}

func (c *config) spanEvents() bool {
	_, isNoop := c.tracerProvider.(tracenoop.TracerProvider)
	return !isNoop
}
