package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/tracing"
)

// logCapture collects JSON log lines.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) raw() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// records decodes every line written so far.
func (c *logCapture) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(c.raw()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (c *logCapture) one(t *testing.T) map[string]any {
	t.Helper()
	recs := c.records(t)
	if len(recs) != 1 {
		t.Fatalf("%d log records, want 1: %s", len(recs), c.raw())
	}
	return recs[0]
}

func jsonLogger(w io.Writer, wrap bool) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	if wrap {
		h = tracing.NewHandler(h)
	}
	return slog.New(h)
}

func instancesMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	return mux
}

func TestAccessLogFields(t *testing.T) {
	tests := []struct {
		name      string
		spans     bool
		slogWrap  bool // the logger already adds the ids (NewHandler)
		handler   func(tr *tracing.Tracer) http.Handler
		wantTrace bool
	}{
		{"outside Middleware, spans on", true, false, func(tr *tracing.Tracer) http.Handler { return tr.AccessLog(tr.Middleware(instancesMux())) }, true},
		{"outside Middleware, spans off", false, false, func(tr *tracing.Tracer) http.Handler { return tr.AccessLog(tr.Middleware(instancesMux())) }, false},
		{"inside Middleware, spans on", true, false, func(tr *tracing.Tracer) http.Handler { return tr.Middleware(tr.AccessLog(instancesMux())) }, true},
		{"inside Middleware, spans off", false, false, func(tr *tracing.Tracer) http.Handler { return tr.Middleware(tr.AccessLog(instancesMux())) }, false},
		{"outside Middleware, NewHandler logger", true, true, func(tr *tracing.Tracer) http.Handler { return tr.AccessLog(tr.Middleware(instancesMux())) }, true},
		{"inside Middleware, NewHandler logger", true, true, func(tr *tracing.Tracer) http.Handler { return tr.Middleware(tr.AccessLog(instancesMux())) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logCapture
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			defer tp.Shutdown(context.Background())
			tr, err := tracing.New(tracing.WithSpans(tc.spans), tracing.WithTracerProvider(tp), tracing.WithLogger(jsonLogger(&logs, tc.slogWrap)))
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			tc.handler(tr).ServeHTTP(w, httptest.NewRequest("GET", "/instances/42", nil))

			got := logs.one(t)
			want := map[string]any{
				"msg":            tracing.AccessLogMessage,
				"level":          "INFO",
				"method":         "GET",
				"route":          "GET /instances/{id}",
				"status":         float64(201),
				"bytes":          float64(5),
				"correlation_id": w.Header().Get("X-Correlation-ID"),
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if d, ok := got["duration"].(float64); !ok || d <= 0 || d > 10 {
				t.Errorf("duration = %v, want seconds as a number", got["duration"])
			}
			if tc.wantTrace {
				spans := rec.Ended()
				if len(spans) != 1 {
					t.Fatalf("%d spans", len(spans))
				}
				sc := spans[0].SpanContext()
				if got["trace_id"] != sc.TraceID().String() || got["span_id"] != sc.SpanID().String() {
					t.Errorf("trace_id %v span_id %v, want the server span's %s %s", got["trace_id"], got["span_id"], sc.TraceID(), sc.SpanID())
				}
			} else if _, ok := got["trace_id"]; ok {
				t.Errorf("trace_id %v without a trace", got["trace_id"])
			}
			if n := strings.Count(logs.raw(), `"correlation_id"`); n != 1 {
				t.Errorf("correlation_id appears %d times: %s", n, logs.raw())
			}
		})
	}
}

func TestAccessLogLevel(t *testing.T) {
	allInfo := func(int) slog.Level { return slog.LevelInfo }
	tests := []struct {
		name   string
		status int
		opts   []tracing.Option
		want   string
	}{
		{"2xx info", 200, nil, "INFO"},
		{"3xx info", 304, nil, "INFO"},
		{"4xx warn", 404, nil, "WARN"},
		{"5xx error", 503, nil, "ERROR"},
		{"configured", 503, []tracing.Option{tracing.WithAccessLogLevel(allInfo)}, "INFO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logCapture
			tr, err := tracing.New(append(tc.opts, tracing.WithLogger(jsonLogger(&logs, false)))...)
			if err != nil {
				t.Fatal(err)
			}
			tr.AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) })).
				ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			got := logs.one(t)
			if got["level"] != tc.want || got["status"] != float64(tc.status) {
				t.Errorf("level %v status %v, want %s %d", got["level"], got["status"], tc.want, tc.status)
			}
		})
	}
}

func TestAccessLogClientGone(t *testing.T) {
	var logs logCapture
	tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, false)))
	ctx, cancel := context.WithCancel(context.Background())
	h := tr.AccessLog(tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the client hangs up while the handler works
		<-r.Context().Done()
	})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil).WithContext(ctx))
	got := logs.one(t)
	if got["status"] != float64(paved.StatusClientClosedRequest) || got["level"] != "WARN" {
		t.Errorf("status %v level %v, want 499 WARN", got["status"], got["level"])
	}
}

// TestAccessLogHandlerPanics: a handler that panics still gets its record,
// and the panic goes on to net/http. httputil.ReverseProxy panics with
// http.ErrAbortHandler when the client hangs up mid-body: that request is
// 499, as the client went away; any other panic aborts the response: 500.
func TestAccessLogHandlerPanics(t *testing.T) {
	tests := []struct {
		name   string
		panic  any
		status float64
		level  string
	}{
		{"client gone", http.ErrAbortHandler, paved.StatusClientClosedRequest, "WARN"},
		{"handler bug", "boom", http.StatusInternalServerError, "ERROR"},
		{"after the header", "late boom", http.StatusInternalServerError, "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logCapture
			tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, false)))
			mux := http.NewServeMux()
			mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
				if tc.name == "after the header" {
					w.WriteHeader(http.StatusOK)
				}
				panic(tc.panic)
			})
			var repanicked any
			func() {
				defer func() { repanicked = recover() }()
				tr.AccessLog(tr.Middleware(mux)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/instances/1", nil))
			}()
			if repanicked != tc.panic {
				t.Errorf("panic %v reached the server, want %v", repanicked, tc.panic)
			}
			got := logs.one(t)
			if got["status"] != tc.status || got["level"] != tc.level || got["route"] != "GET /instances/{id}" {
				t.Errorf("status %v level %v route %v, want %v %v and the route", got["status"], got["level"], got["route"], tc.status, tc.level)
			}
		})
	}
}

// TestAccessLogNoLeaks checks that the path, query string and headers
// stay out of the log unless asked for, and that secrets are redacted
// when they are.
func TestAccessLogNoLeaks(t *testing.T) {
	secrets := []string{"s3cr3t-token", "Bearer abc", "sess=xyz", "key-123", "Basic zzz", "set=me"}
	newReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/users/alice/secret-path?token=s3cr3t-token&page=2&Api_Key=key-123", nil)
		r.Header.Set("Authorization", "Bearer abc")
		r.Header.Set("Cookie", "sess=xyz")
		r.Header.Set("X-Api-Key", "key-123")
		r.Header.Set("Proxy-Authorization", "Basic zzz")
		r.Header.Set("Set-Cookie", "set=me")
		r.Header.Set("User-Agent", "probe/1.0")
		return r
	}
	all := []string{"Authorization", "cookie", "X-API-Key", "Proxy-Authorization", "Set-Cookie", "User-Agent", "Absent"}
	tests := []struct {
		name        string
		opts        []tracing.Option
		wantQuery   string
		wantHeaders map[string]any
		absent      []string
	}{
		{name: "default", absent: append([]string{"alice", "secret-path", "page", "probe/1.0", "query", "headers"}, secrets...)},
		{name: "query", opts: []tracing.Option{tracing.WithAccessLogQuery(true)},
			wantQuery: "token=[REDACTED]&page=2&Api_Key=[REDACTED]", absent: append([]string{"alice", "probe/1.0"}, secrets...)},
		{name: "headers", opts: []tracing.Option{tracing.WithAccessLogHeaders(all...)},
			wantHeaders: map[string]any{
				"Authorization": tracing.Redacted, "Cookie": tracing.Redacted, "X-Api-Key": tracing.Redacted,
				"Proxy-Authorization": tracing.Redacted, "Set-Cookie": tracing.Redacted, "User-Agent": "probe/1.0",
			},
			absent: append([]string{"alice", "page", "Absent"}, secrets...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logCapture
			tr, err := tracing.New(append(tc.opts, tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, true)))...)
			if err != nil {
				t.Fatal(err)
			}
			tr.AccessLog(tr.Middleware(http.NotFoundHandler())).ServeHTTP(httptest.NewRecorder(), newReq())
			got := logs.one(t)
			if q, _ := got["query"].(string); q != tc.wantQuery {
				t.Errorf("query %q, want %q", q, tc.wantQuery)
			}
			if tc.wantHeaders != nil {
				h, _ := got["headers"].(map[string]any)
				if len(h) != len(tc.wantHeaders) {
					t.Errorf("headers %v, want %v", h, tc.wantHeaders)
				}
				for k, v := range tc.wantHeaders {
					if h[k] != v {
						t.Errorf("header %s = %v, want %v", k, h[k], v)
					}
				}
			}
			line := logs.raw()
			for _, s := range tc.absent {
				if strings.Contains(line, s) {
					t.Errorf("log has %q: %s", s, line)
				}
			}
		})
	}
}

func TestAccessLogFilter(t *testing.T) {
	var logs logCapture
	tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, false)),
		tracing.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
	h := tr.AccessLog(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/work", nil))
	if got := logs.one(t); got["status"] != float64(404) {
		t.Errorf("status %v", got["status"])
	}
}

func TestAccessLogOnce(t *testing.T) {
	var logs logCapture
	tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, false)))
	tr.AccessLog(tr.AccessLog(http.NotFoundHandler())).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := logs.one(t); got["status"] != float64(404) {
		t.Errorf("status %v", got["status"])
	}
}

// TestAccessLogKeepsWriterInterfaces checks that handlers behind AccessLog
// can still flush, as streaming responses need.
func TestAccessLogKeepsWriterInterfaces(t *testing.T) {
	var logs logCapture
	tr, _ := tracing.New(tracing.WithSpans(false), tracing.WithLogger(jsonLogger(&logs, false)))
	var flushErr error
	h := tr.AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "chunk")
		flushErr = http.NewResponseController(w).Flush()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if flushErr != nil || !w.Flushed {
		t.Fatalf("flush through AccessLog: %v, flushed %v", flushErr, w.Flushed)
	}
	if got := logs.one(t); got["bytes"] != float64(5) {
		t.Errorf("bytes %v", got["bytes"])
	}
}

func TestNewRejectsBadAccessLogOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  tracing.Option
	}{
		{"header name with a space", tracing.WithAccessLogHeaders("User Agent")},
		{"empty header name", tracing.WithAccessLogHeaders("")},
		{"nil level function", tracing.WithAccessLogLevel(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tracing.New(tc.opt); err == nil || !strings.HasPrefix(err.Error(), "tracing: ") {
				t.Fatalf("New: %v, want a tracing: error", err)
			}
		})
	}
}
