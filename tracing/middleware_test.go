package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs req through tr.Middleware and returns the response and the
// correlation id the handler saw in its context.
func serve(t *testing.T, tr *tracing.Tracer, req *http.Request) (*httptest.ResponseRecorder, string) {
	t.Helper()
	var seen string
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = tracing.CorrelationID(r.Context())
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w, seen
}

func TestMiddlewareCorrelationID(t *testing.T) {
	long := strings.Repeat("a", tracing.MaxCorrelationIDLen+1)
	tests := []struct {
		name    string
		header  map[string][]string
		opts    []tracing.Option
		want    string // "" means a fresh UUIDv7
		wantLen int
	}{
		{name: "present", header: map[string][]string{"X-Correlation-Id": {"abc-123"}}, want: "abc-123"},
		{name: "absent", header: nil},
		{name: "max length kept", header: map[string][]string{"X-Correlation-Id": {long[1:]}}, want: long[1:]},
		{name: "too long replaced", header: map[string][]string{"X-Correlation-Id": {long}}},
		{name: "control characters replaced", header: map[string][]string{"X-Correlation-Id": {"abc\x01def"}}},
		{name: "newline replaced", header: map[string][]string{"X-Correlation-Id": {"abc\r\nSet-Cookie: x=1"}}},
		{name: "space replaced", header: map[string][]string{"X-Correlation-Id": {"abc def"}}},
		{name: "non-ASCII replaced", header: map[string][]string{"X-Correlation-Id": {"abcé"}}},
		{name: "empty replaced", header: map[string][]string{"X-Correlation-Id": {""}}},
		{name: "two values replaced", header: map[string][]string{"X-Correlation-Id": {"a", "b"}}},
		{name: "X-Request-ID fallback", header: map[string][]string{"X-Request-Id": {"req-7"}}, want: "req-7"},
		{name: "correlation header wins over X-Request-ID", header: map[string][]string{"X-Correlation-Id": {"corr"}, "X-Request-Id": {"req"}}, want: "corr"},
		{name: "invalid correlation header does not fall back", header: map[string][]string{"X-Correlation-Id": {"bad id"}, "X-Request-Id": {"req"}}},
		{name: "renamed header", header: map[string][]string{"Request-Id": {"r1"}}, opts: []tracing.Option{tracing.WithHeader("request-id")}, want: "r1"},
		{name: "renamed header ignores the default name", header: map[string][]string{"X-Correlation-Id": {"c1"}}, opts: []tracing.Option{tracing.WithHeader("Request-Id")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := tracing.New(append(tc.opts, tracing.WithSpans(false))...)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			w, seen := serve(t, tr, req)
			got := w.Header().Values(tr.Header())
			if len(got) != 1 {
				t.Fatalf("response %s = %q, want one value", tr.Header(), got)
			}
			if got[0] != seen {
				t.Fatalf("response id %q != context id %q", got[0], seen)
			}
			if tc.want != "" {
				if seen != tc.want {
					t.Fatalf("id = %q, want %q", seen, tc.want)
				}
				return
			}
			u, err := uuid.Parse(seen)
			if err != nil || u.Version() != 7 {
				t.Fatalf("id %q is not a fresh UUIDv7 (%v)", seen, err)
			}
			for _, vs := range tc.header {
				for _, v := range vs {
					if v != "" && w.Header().Get(tr.Header()) == v {
						t.Fatalf("rejected value %q was echoed", v)
					}
				}
			}
		})
	}
}

func TestMiddlewareKeepsOuterID(t *testing.T) {
	inner, _ := tracing.New(tracing.WithSpans(false))
	outer, _ := tracing.New(tracing.WithSpans(false))
	var seen string
	h := outer.Middleware(inner.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = tracing.CorrelationID(r.Context())
	})))
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Correlation-ID", "outer-id")
	h.ServeHTTP(w, req)
	if seen != "outer-id" || w.Header().Get("X-Correlation-ID") != "outer-id" {
		t.Fatalf("nested middleware: context %q, header %q", seen, w.Header().Get("X-Correlation-ID"))
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  tracing.Option
	}{
		{"empty header", tracing.WithHeader("")},
		{"header with space", tracing.WithHeader("X Correlation")},
		{"header with colon", tracing.WithHeader("X-Id:")},
		{"nil propagators", tracing.WithPropagators(nil)},
		{"nil filter", tracing.WithFilter(nil)},
		{"nil option", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := tracing.New(tc.opt)
			if err == nil || tr != nil {
				t.Fatalf("New accepted %s", tc.name)
			}
			if !strings.HasPrefix(err.Error(), "tracing: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestWithCorrelationID(t *testing.T) {
	ctx := tracing.WithCorrelationID(context.Background(), "job-42")
	if got := tracing.CorrelationID(ctx); got != "job-42" {
		t.Fatalf("CorrelationID = %q", got)
	}
	if got := tracing.CorrelationID(context.Background()); got != "" {
		t.Fatalf("empty context has id %q", got)
	}
}

func TestNewCorrelationIDUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := tracing.NewCorrelationID()
		if seen[id] || !tracing.ValidCorrelationID(id) {
			t.Fatalf("id %q repeated or invalid", id)
		}
		seen[id] = true
	}
}

// TestTransportCorrelationOnly checks that with spans off the transport
// still sends the correlation id, its baggage member, and the caller's
// trace context, without touching the caller's request.
func TestTransportCorrelationOnly(t *testing.T) {
	got := make(chan http.Header, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer upstream.Close()

	tr, _ := tracing.New(tracing.WithSpans(false))
	client := &http.Client{Transport: tr.Transport(upstream.Client().Transport)}
	defer client.CloseIdleConnections()

	ctx := tracing.WithCorrelationID(context.Background(), "abc")
	req, _ := http.NewRequestWithContext(ctx, "GET", upstream.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h := <-got
	if h.Get("X-Correlation-ID") != "abc" {
		t.Errorf("upstream saw X-Correlation-ID %q", h.Get("X-Correlation-ID"))
	}
	if h.Get("Baggage") != "correlation_id=abc" {
		t.Errorf("upstream saw baggage %q", h.Get("Baggage"))
	}
	if len(req.Header) != 0 {
		t.Errorf("the caller's request was modified: %v", req.Header)
	}

	// The context's id replaces a header copied from elsewhere (as a
	// reverse proxy copies the inbound one), without touching the caller's
	// request.
	req, _ = http.NewRequestWithContext(ctx, "GET", upstream.URL, nil)
	req.Header.Set("X-Correlation-ID", "bad id copied from inbound")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h.Values("X-Correlation-ID")[0] != "abc" || len(h.Values("X-Correlation-ID")) != 1 {
		t.Errorf("upstream saw %q, want the context's id", h.Values("X-Correlation-ID"))
	}
	if req.Header.Get("X-Correlation-ID") != "bad id copied from inbound" {
		t.Error("the caller's request was modified")
	}

	// Without an id in the context, the request's own header passes.
	req, _ = http.NewRequest("GET", upstream.URL, nil)
	req.Header.Set("X-Correlation-ID", "explicit")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h.Get("X-Correlation-ID") != "explicit" {
		t.Errorf("explicit header replaced by %q", h.Get("X-Correlation-ID"))
	}

	// No id, no headers added.
	req, _ = http.NewRequest("GET", upstream.URL, nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h.Get("X-Correlation-ID") != "" || h.Get("Baggage") != "" || h.Get("Traceparent") != "" {
		t.Errorf("headers added without an id or trace: %v", h)
	}
}

func TestNewCorrelationIDIsUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	id := tracing.NewCorrelationID()
	after := time.Now().UnixMilli()
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != id {
		t.Fatalf("%q is not a canonical UUIDv7: %v", id, err)
	}
	if ms := time.Unix(u.Time().UnixTime()).UnixMilli(); ms < before || ms > after {
		t.Fatalf("timestamp %d outside [%d, %d]", ms, before, after)
	}
}

// closeCounter is a base RoundTripper that counts CloseIdleConnections.
type closeCounter struct {
	http.RoundTripper
	closed int
}

func (c *closeCounter) CloseIdleConnections() { c.closed++ }

// TestTransportCloseIdleConnections checks that http.Client's
// CloseIdleConnections reaches the base transport, with spans on (otelhttp
// in between) and off.
func TestTransportCloseIdleConnections(t *testing.T) {
	for _, spans := range []bool{true, false} {
		tr, _ := tracing.New(tracing.WithSpans(spans))
		base := &closeCounter{RoundTripper: http.DefaultTransport}
		client := &http.Client{Transport: tr.Transport(base)}
		client.CloseIdleConnections()
		if base.closed != 1 {
			t.Errorf("spans %v: base CloseIdleConnections called %d times, want 1", spans, base.closed)
		}
	}
}

// TestNilProvidersAreTheGlobalOnes: a nil TracerProvider or MeterProvider
// means the global one, as in every paved package, not an error from New.
func TestNilProvidersAreTheGlobalOnes(t *testing.T) {
	tr, err := tracing.New(tracing.WithTracerProvider(nil), tracing.WithMeterProvider(nil))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if tr.TracerProvider() != otel.GetTracerProvider() || tr.MeterProvider() != otel.GetMeterProvider() {
		t.Fatal("the providers are not the global ones")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Correlation-ID", "job-1")
	if _, seen := serve(t, tr, req); seen != "job-1" {
		t.Fatalf("correlation id %q", seen)
	}
}
