package tracing

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"
)

// Option configures a Tracer.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DefaultHeader is the header that carries the correlation id unless
// WithHeader names another.
const DefaultHeader = "X-Correlation-ID"

// requestIDHeader is accepted as a fallback source of the correlation id:
// many proxies and load balancers set it.
const requestIDHeader = "X-Request-Id"

type config struct {
	header         string
	spans          bool
	filter         func(*http.Request) bool
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	// customPropagators: WithPropagators replaced the default, so which
	// fields carry context is unknown.
	customPropagators bool
	logger            *slog.Logger
	accessQuery       bool
	accessHeaders     []string // canonical names
	accessLevel       func(status int) slog.Level
	err               error
}

func newConfig(opts ...Option) (config, error) {
	c := config{
		header:      DefaultHeader,
		spans:       true,
		propagators: defaultPropagators,
		accessLevel: DefaultAccessLogLevel,
	}
	for _, o := range opts {
		if o == nil {
			return c, errors.New("tracing: nil Option")
		}
		o.apply(&c)
	}
	if c.err != nil {
		return c, c.err
	}
	c.header = http.CanonicalHeaderKey(c.header)
	return c, nil
}

// defaultPropagators is W3C Trace Context, with paved's conformance fixes
// (TraceContext), and W3C Baggage.
var defaultPropagators = propagation.NewCompositeTextMapPropagator(TraceContext{}, propagation.Baggage{})

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// WithHeader names the header that carries the correlation id in requests,
// responses and outgoing calls (default X-Correlation-ID). X-Request-ID is
// still read when the named header is absent.
func WithHeader(name string) Option {
	return optionFunc(func(c *config) {
		if !httpguts.ValidHeaderFieldName(name) {
			c.fail(fmt.Errorf("tracing: WithHeader: %q is not a valid header name", name))
			return
		}
		c.header = name
	})
}

// WithSpans turns OpenTelemetry spans and HTTP/gRPC metrics (otelhttp,
// otelgrpc) on or off (default on). Off leaves correlation ids and
// propagation only, at a fraction of the cost: an incoming traceparent,
// tracestate and baggage are still read (only when the request has a
// traceparent or baggage field, with the default propagators) and sent on
// unchanged with outgoing calls, as W3C Trace Context asks of a service
// that does not trace, so the caller's trace is not broken and logs carry
// its trace id.
func WithSpans(on bool) Option {
	return optionFunc(func(c *config) { c.spans = on })
}

// WithFilter skips spans and access log records (AccessLog) for requests
// for which keep returns false, such as health checks; they still get a
// correlation id. A nil function is an error from New.
func WithFilter(keep func(*http.Request) bool) Option {
	return optionFunc(func(c *config) {
		if keep == nil {
			c.fail(errors.New("tracing: WithFilter: nil function"))
			return
		}
		c.filter = keep
	})
}

// WithTracerProvider sets the TracerProvider for spans (default, and for
// nil, the global one, read when each span starts).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the MeterProvider for HTTP and gRPC metrics
// (default, and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithPropagators sets how trace context and baggage cross process
// boundaries. The default is W3C Trace Context (TraceContext, which fixes
// where propagation.TraceContext does not conform) and W3C Baggage,
// whatever the global propagator is; pass otel.GetTextMapPropagator() to
// follow the global one instead. A propagator given here is used as is.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p == nil {
			c.fail(errors.New("tracing: WithPropagators: nil propagator"))
			return
		}
		c.propagators = p
		c.customPropagators = true
	})
}

// WithLogger sets the logger for the tracer's own messages, such as a
// client-supplied correlation id being replaced, and for AccessLog's
// records (default, and for nil, slog.Default(), read at each use).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithAccessLogQuery makes AccessLog log the query string (default off),
// with the values of parameters that commonly carry secrets (token,
// access_token, api_key, key, password, secret, code, signature, ...)
// replaced by Redacted.
func WithAccessLogQuery(on bool) Option {
	return optionFunc(func(c *config) { c.accessQuery = on })
}

// WithAccessLogHeaders makes AccessLog log the named request headers
// (default none) in a group "headers", several values joined with ", ".
// Authorization, Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key are
// logged as Redacted, whatever the names. An invalid header name is an
// error from New.
func WithAccessLogHeaders(names ...string) Option {
	return optionFunc(func(c *config) {
		for _, n := range names {
			if !httpguts.ValidHeaderFieldName(n) {
				c.fail(fmt.Errorf("tracing: WithAccessLogHeaders: %q is not a valid header name", n))
				return
			}
			c.accessHeaders = append(c.accessHeaders, http.CanonicalHeaderKey(n))
		}
	})
}

// WithAccessLogLevel sets the level of an access log record from its
// status (default DefaultAccessLogLevel: Error for 5xx, Warn for 4xx,
// Info otherwise). A nil function is an error from New.
func WithAccessLogLevel(level func(status int) slog.Level) Option {
	return optionFunc(func(c *config) {
		if level == nil {
			c.fail(errors.New("tracing: WithAccessLogLevel: nil function"))
			return
		}
		c.accessLevel = level
	})
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

func (c *config) tp() trace.TracerProvider {
	if c.tracerProvider != nil {
		return c.tracerProvider
	}
	return otel.GetTracerProvider()
}

func (c *config) mp() metric.MeterProvider {
	if c.meterProvider != nil {
		return c.meterProvider
	}
	return otel.GetMeterProvider()
}
