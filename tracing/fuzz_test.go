package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/tracing"
)

// FuzzCorrelationID feeds any header value to the middleware: the id the
// handler and the client see is always the same, always valid, and equal
// to the input only when the input is valid.
func FuzzCorrelationID(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", "x\r\ny", "\x00", "é", "01JD2-abc:def/ghi+=", string(make([]byte, 200))} {
		f.Add(s)
	}
	tr, _ := tracing.New(tracing.WithSpans(false))
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Correlation-Id"] = []string{v}
		var seen string
		w := httptest.NewRecorder()
		tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = tracing.CorrelationID(r.Context())
		})).ServeHTTP(w, req)
		got := w.Header().Get("X-Correlation-ID")
		if got != seen || !tracing.ValidCorrelationID(got) {
			t.Fatalf("input %q: response %q, context %q", v, got, seen)
		}
		if (got == v) != tracing.ValidCorrelationID(v) {
			t.Fatalf("input %q (valid %v) became %q", v, tracing.ValidCorrelationID(v), got)
		}
	})
}

// FuzzTraceparent feeds any traceparent to a traced server: it never
// panics, a valid traceparent is continued, and an invalid one starts a
// new trace. Sampling is forced on so every request records its span.
func FuzzTraceparent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"", "garbage", "00--",
	} {
		f.Add(s)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	f.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr, _ := tracing.New(tracing.WithTracerProvider(tp))
	h := tr.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.Fuzz(func(t *testing.T, v string) {
		rec.Reset()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Traceparent"] = []string{v}
		h.ServeHTTP(httptest.NewRecorder(), req)
		spans := rec.Ended()
		if len(spans) != 1 {
			t.Fatalf("%d spans", len(spans))
		}
		s := spans[0]
		if !s.SpanContext().IsValid() {
			t.Fatal("server span has an invalid context")
		}
		if p := s.Parent(); p.IsValid() {
			// Future versions may append fields; the ids are where
			// version 00 has them, once spaces and tabs around the
			// value are trimmed.
			v := strings.Trim(v, " \t")
			if len(v) < 55 || p.TraceID() != s.SpanContext().TraceID() ||
				p.TraceID().String() != v[3:35] || p.SpanID().String() != v[36:52] {
				t.Fatalf("traceparent %q gave parent %v", v, p)
			}
		}
	})
}
