package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/tracing"
)

func newRecordingTracer(t *testing.T, opts ...tracing.Option) (*tracing.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr, err := tracing.New(append([]tracing.Option{tracing.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return tr, rec
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
	}
	t.Fatalf("no span %q among %q", name, names)
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestTwoHopTrace sends a request to service A, which calls service B
// through tracing.Transport. Both hops must share one trace, with B's
// server span a child of A's client span, itself a child of A's server
// span, and B must see A's correlation id.
func TestTwoHopTrace(t *testing.T) {
	tr, rec := newRecordingTracer(t)

	var bSawID, bSawBaggage string
	muxB := http.NewServeMux()
	muxB.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		bSawID = tracing.CorrelationID(r.Context())
		bSawBaggage = r.Header.Get("Baggage")
	})
	b := httptest.NewServer(tr.Middleware(muxB))
	defer b.Close()

	client := &http.Client{Transport: tr.Transport(nil)}
	defer client.CloseIdleConnections()
	muxA := http.NewServeMux()
	muxA.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", b.URL+"/items/7", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	a := httptest.NewServer(tr.Middleware(muxA))
	defer a.Close()

	req, _ := http.NewRequest("GET", a.URL+"/orders/1", nil)
	req.Header.Set("X-Correlation-ID", "two-hop")
	resp, err := a.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Correlation-ID") != "two-hop" {
		t.Fatalf("A answered %d with id %q", resp.StatusCode, resp.Header.Get("X-Correlation-ID"))
	}
	if bSawID != "two-hop" || bSawBaggage != "correlation_id=two-hop" {
		t.Fatalf("B saw id %q, baggage %q", bSawID, bSawBaggage)
	}

	spans := rec.Ended()
	serverA := spanNamed(t, spans, "GET /orders/{id}")
	serverB := spanNamed(t, spans, "GET /items/{id}")
	var clientA sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			clientA = s
		}
	}
	if clientA == nil {
		t.Fatal("no client span")
	}
	tid := serverA.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{clientA, serverB} {
		if s.SpanContext().TraceID() != tid {
			t.Fatalf("span %q in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), tid)
		}
	}
	if clientA.Parent().SpanID() != serverA.SpanContext().SpanID() {
		t.Error("A's client span is not a child of A's server span")
	}
	if serverB.Parent().SpanID() != clientA.SpanContext().SpanID() || !serverB.Parent().IsRemote() {
		t.Error("B's server span is not a remote child of A's client span")
	}
	if serverA.SpanKind() != trace.SpanKindServer || attr(serverA, tracing.AttrCorrelationID) != "two-hop" {
		t.Errorf("A's server span: kind %v, correlation %q", serverA.SpanKind(), attr(serverA, tracing.AttrCorrelationID))
	}
}

func TestSpanNames(t *testing.T) {
	tr, rec := newRecordingTracer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/any/", func(http.ResponseWriter, *http.Request) {})
	h := tr.Middleware(mux)
	for _, path := range []string{"/instances/1", "/instances/2", "/any/x", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	want := []string{"GET /instances/{id}", "GET /instances/{id}", "GET /any/", "GET"}
	if len(names) != len(want) {
		t.Fatalf("span names %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("span names %q, want %q", names, want)
		}
	}
}

func TestFilterSkipsSpansNotIDs(t *testing.T) {
	tr, rec := newRecordingTracer(t, tracing.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
	h := tr.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if len(rec.Ended()) != 0 {
		t.Fatalf("health check recorded %d spans", len(rec.Ended()))
	}
	if w.Header().Get("X-Correlation-ID") == "" {
		t.Fatal("filtered request got no correlation id")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/work", nil))
	if len(rec.Ended()) != 1 {
		t.Fatalf("unfiltered request recorded %d spans", len(rec.Ended()))
	}
}

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

func TestSpansOffStillPropagatesCallerTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	off, _ := tracing.New(tracing.WithSpans(false), tracing.WithTracerProvider(tp))

	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("Traceparent") }))
	defer up.Close()
	client := &http.Client{Transport: off.Transport(nil)}
	defer client.CloseIdleConnections()

	ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	span.End()
	tp2 := <-got
	if !traceparentRE.MatchString(tp2) || tp2[3:35] != span.SpanContext().TraceID().String() {
		t.Fatalf("traceparent %q does not carry the caller's trace %s", tp2, span.SpanContext().TraceID())
	}
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("spans off recorded %d spans, want only the caller's", n)
	}
}

// TestSpanNamesBoundedMethods checks that a client cannot make span names
// high-cardinality by inventing methods, and that a name carries the
// request's method, as OTel's HTTP semantic conventions ask.
func TestSpanNamesBoundedMethods(t *testing.T) {
	tr, rec := newRecordingTracer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/any/", func(http.ResponseWriter, *http.Request) {})
	h := tr.Middleware(mux)
	for _, req := range []struct{ method, path string }{
		{"X-RANDOM-1", "/any/x"}, {"X-RANDOM-2", "/missing"}, {"HEAD", "/instances/1"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	want := []string{"HTTP /any/", "HTTP", "HEAD /instances/{id}"}
	if len(names) != len(want) {
		t.Fatalf("span names %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("span names %q, want %q", names, want)
		}
	}
}
