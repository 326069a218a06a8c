package tracing_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/paved-go/paved/tracing"
)

// discardWriter is a ResponseWriter that keeps one header map, so the
// benchmark measures the middleware, not the recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	corrOnly, _ := tracing.New(tracing.WithSpans(false))
	noopSpans, _ := tracing.New(tracing.WithTracerProvider(tracenoop.NewTracerProvider()), tracing.WithMeterProvider(noop.NewMeterProvider()))
	tp := sdktrace.NewTracerProvider() // sampled spans, no exporter
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	sdkSpans, _ := tracing.New(tracing.WithTracerProvider(tp), tracing.WithMeterProvider(noop.NewMeterProvider()))

	run := func(name string, h http.Handler, id string) {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/instances", nil)
			if id != "" {
				req.Header.Set("X-Correlation-ID", id)
			}
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
	run("raw", bare, "")
	run("paved/id-present", corrOnly.Middleware(bare), "abc-123")
	run("paved/id-generated", corrOnly.Middleware(bare), "")
	run("paved/spans-noop-provider", noopSpans.Middleware(bare), "abc-123")
	run("paved/spans-sdk", sdkSpans.Middleware(bare), "abc-123")
}

// BenchmarkSpans serves into a fresh httptest.ResponseRecorder per
// request, as users' tests do, with no-op providers: "raw" is otelhttp
// alone, "paved" is Middleware with spans on (otelhttp plus the
// correlation id), "paved/ids-only" is Middleware with spans off.
func BenchmarkSpans(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tp, mp := tracenoop.NewTracerProvider(), noop.NewMeterProvider()
	raw := otelhttp.NewHandler(bare, "", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))
	spans, _ := tracing.New(tracing.WithTracerProvider(tp), tracing.WithMeterProvider(mp))
	ids, _ := tracing.New(tracing.WithSpans(false))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"raw", raw},
		{"paved", spans.Middleware(bare)},
		{"paved/ids-only", ids.Middleware(bare)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/instances", nil)
			req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

func BenchmarkHandler(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("bench").Start(tracing.WithCorrelationID(context.Background(), "abc-123"), "op")
	defer span.End()

	run := func(name string, h slog.Handler) {
		b.Run(name, func(b *testing.B) {
			logger := slog.New(h)
			b.ReportAllocs()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("route", "GET /instances"), slog.Int("status", 200))
			}
		})
	}
	run("raw", slog.NewJSONHandler(io.Discard, nil))
	run("paved", tracing.NewHandler(slog.NewJSONHandler(io.Discard, nil)))
}

// BenchmarkAccessLog is the cost of one access log record written as
// JSON to io.Discard, beside the same handler without it.
func BenchmarkAccessLog(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"raw", bare},
		{"paved", tr.AccessLog(bare)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/instances", nil)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
