// Package telemetry sets up OpenTelemetry for a whole process in one call:
// the global tracer, meter and logger providers and the W3C propagators.
//
//	shutdown, err := telemetry.Setup(ctx, telemetry.WithServiceName("gateway"), telemetry.WithPrometheus())
//	if err != nil { ... }
//	defer shutdown(context.Background())
//	mux.Handle("GET /metrics", telemetry.MetricsHandler())
//
// With the standard OTEL_EXPORTER_OTLP_ENDPOINT (or a per-signal
// OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT, or OTEL_*_EXPORTER)
// set, it exports over OTLP, honouring the other standard variables
// (OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER). Without them it stays
// local: spans are still created and sampled, so logs carry real trace
// ids, but nothing leaves the process unless WithStdout asks for it.
//
// WithPrometheus also serves every metric of the MeterProvider Setup
// installs (the paved.* metrics of every package, otelhttp's and
// otelgrpc's) in the Prometheus text format: MetricsHandler returns the
// http.Handler for a /metrics route. Mount it behind whatever protects
// the service's admin routes; it carries no secrets but tells a lot about
// the service.
//
// The propagator Setup installs is tracing.TraceContext with W3C Baggage,
// so code that uses the global propagator gets paved's conformance fixes.
//
// It lives apart from package tracing because the OTLP exporters bring in
// gRPC, which paved's core packages never import.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/tracing"
)

// Option configures Setup.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	serviceName string
	stdout      io.Writer
	readers     []sdkmetric.Reader
	prometheus  bool
	getenv      func(string) string
	err         error // the first bad option
}

// WithServiceName sets service.name on every span, metric and log record
// (OTEL_SERVICE_NAME overrides it, as the specification asks).
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithStdout writes finished spans to w as JSON when no OTLP endpoint is
// configured, for local debugging.
func WithStdout(w io.Writer) Option {
	return optionFunc(func(c *config) { c.stdout = w })
}

// WithMetricReader adds a metric reader, such as the OpenTelemetry
// Prometheus exporter, whatever else is configured. Without OTLP and
// without a reader no MeterProvider is installed and metrics cost nearly
// nothing. A nil r is an error from Setup.
func WithMetricReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) {
		if r == nil {
			if c.err == nil {
				c.err = errors.New("telemetry: WithMetricReader: nil reader")
			}
			return
		}
		c.readers = append(c.readers, r)
	})
}

// WithPrometheus adds a Prometheus exporter to the MeterProvider Setup
// installs, whatever else is configured, and makes MetricsHandler serve
// it. The metrics are registered in a registry of their own, not in
// prometheus.DefaultRegisterer, so nothing else a process registers
// there leaks onto /metrics and setting up twice cannot collide.
func WithPrometheus() Option {
	return optionFunc(func(c *config) { c.prometheus = true })
}

// metrics is what MetricsHandler serves: the Prometheus handler of the
// last successful Setup, or nil.
var metrics atomic.Pointer[http.Handler]

// MetricsHandler returns an http.Handler that serves, in the Prometheus
// text format, the metrics of the MeterProvider the last successful Setup
// with WithPrometheus installed. The handler may be mounted before Setup
// runs: until then, or when the last Setup had no WithPrometheus, it
// answers 404 Not Found. It is safe for concurrent use.
func MetricsHandler() http.Handler { return metricsHandler{} }

type metricsHandler struct{}

func (metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := metrics.Load()
	if h == nil {
		// As every paved error: problem+json, never plain text.
		httpx.WriteProblem(w, httpx.Problem{Status: http.StatusNotFound,
			Detail: "telemetry: no Prometheus exporter set up (telemetry.WithPrometheus)", CorrelationID: httpx.CorrelationID(r.Context())})
		return
	}
	(*h).ServeHTTP(w, r)
}

// Setup installs the global providers and propagators and returns a
// function that flushes and shuts them down; call it before the process
// exits. On error (a nil or invalid option, an unknown exporter) nothing
// global has been changed. A malformed
// OTEL_RESOURCE_ATTRIBUTES entry is not an error: it is reported to the
// OTel error handler (otel.Handle) and skipped.
func Setup(ctx context.Context, opts ...Option) (shutdown func(context.Context) error, err error) {
	cfg := config{getenv: os.Getenv}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("telemetry: option %d is nil", i)
		}
		o.apply(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}

	resOpts := []resource.Option{resource.WithTelemetrySDK(), resource.WithHost()}
	if cfg.serviceName != "" {
		resOpts = append(resOpts, resource.WithAttributes(attribute.String("service.name", cfg.serviceName)))
	}
	resOpts = append(resOpts, resource.WithFromEnv()) // the environment wins
	res, err := resource.New(ctx, resOpts...)
	if errors.Is(err, resource.ErrPartialResource) {
		// A malformed OTEL_RESOURCE_ATTRIBUTES entry, or a detector that
		// found nothing: the specification asks to warn and go on with
		// what is valid, as the SDK's own default resource does.
		otel.Handle(fmt.Errorf("telemetry: resource: %w", err))
	} else if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	var shutdowns []func(context.Context) error
	fail := func(err error) (func(context.Context) error, error) {
		for _, s := range shutdowns {
			_ = s(ctx)
		}
		return nil, err
	}

	// Traces.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch {
	case cfg.exports("TRACES"):
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return fail(fmt.Errorf("telemetry: trace exporter: %w", err))
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	case cfg.stdout != nil:
		exp, err := stdouttrace.New(stdouttrace.WithWriter(cfg.stdout))
		if err != nil {
			return fail(fmt.Errorf("telemetry: stdout exporter: %w", err))
		}
		tpOpts = append(tpOpts, sdktrace.WithSyncer(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	shutdowns = append(shutdowns, tp.Shutdown)

	// Metrics.
	readers := cfg.readers
	var promHandler http.Handler
	if cfg.prometheus {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return fail(fmt.Errorf("telemetry: prometheus exporter: %w", err))
		}
		readers = append(readers, exp)
		promHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if cfg.exports("METRICS") {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return fail(fmt.Errorf("telemetry: metric exporter: %w", err))
		}
		readers = append(readers, r)
	}
	var mp *sdkmetric.MeterProvider
	if len(readers) > 0 {
		mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
		for _, r := range readers {
			mpOpts = append(mpOpts, sdkmetric.WithReader(r))
		}
		mp = sdkmetric.NewMeterProvider(mpOpts...)
		shutdowns = append(shutdowns, mp.Shutdown)
	}

	// Logs.
	var lp *sdklog.LoggerProvider
	if cfg.exports("LOGS") {
		exp, err := autoexport.NewLogExporter(ctx)
		if err != nil {
			return fail(fmt.Errorf("telemetry: log exporter: %w", err))
		}
		lp = sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		shutdowns = append(shutdowns, lp.Shutdown)
	}

	otel.SetTracerProvider(tp)
	if mp != nil {
		otel.SetMeterProvider(mp)
	}
	if lp != nil {
		otel.SetLoggerProvider(lp)
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(tracing.TraceContext{}, propagation.Baggage{}))
	var served *http.Handler
	if promHandler != nil {
		served = &promHandler
	}
	metrics.Store(served)

	return func(ctx context.Context) error {
		if served != nil {
			metrics.CompareAndSwap(served, nil) // a later Setup's handler stays
		}
		var errs []error
		for i := len(shutdowns) - 1; i >= 0; i-- {
			if err := shutdowns[i](ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("telemetry: shutdown: %w", err)
		}
		return nil
	}, nil
}

// exports reports whether the environment asks for an exporter for signal
// (TRACES, METRICS or LOGS): an OTLP endpoint, generic or per signal, or
// an explicit OTEL_<signal>_EXPORTER other than "none".
func (c *config) exports(signal string) bool {
	if v := c.getenv("OTEL_" + signal + "_EXPORTER"); v != "" {
		return v != "none"
	}
	return c.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || c.getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}
