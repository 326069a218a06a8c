package breaker_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
)

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func decodeProblem(t *testing.T, h http.Header, body []byte) problem {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return p
}

// TestMiddleware runs a real server: per-route breakers, 5xx failures, 4xx
// not, and a rejection that never reaches the handler.
func TestMiddleware(t *testing.T) {
	reg := mustRegistry(t, breaker.WithFailureRate(0.5, 4))
	var hits atomic.Int64
	mux := http.NewServeMux()
	route := func(pattern string, status int) {
		mux.Handle(pattern, reg.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(status)
		})))
	}
	route("GET /fail", http.StatusInternalServerError)
	route("GET /missing", http.StatusNotFound)
	route("GET /ok", http.StatusOK)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for range 10 {
		if resp, _ := get("/missing"); resp.StatusCode != 404 {
			t.Fatalf("/missing: %d", resp.StatusCode)
		}
	}
	for range 4 {
		if resp, _ := get("/fail"); resp.StatusCode != 500 {
			t.Fatalf("/fail: %d", resp.StatusCode)
		}
	}
	before := hits.Load()
	resp, body := get("/fail")
	if resp.StatusCode != http.StatusServiceUnavailable || hits.Load() != before {
		t.Fatalf("open route: status %d, handler ran %d times", resp.StatusCode, hits.Load()-before)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 30 {
		t.Fatalf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
	want := problem{Type: "about:blank", Title: "Service Unavailable", Status: 503, Detail: "breaker: open"}
	if p := decodeProblem(t, resp.Header, body); p != want {
		t.Fatalf("problem %+v, want %+v", p, want)
	}
	for _, path := range []string{"/missing", "/ok"} { // other routes have their own breakers
		if resp, _ := get(path); resp.StatusCode == 503 {
			t.Fatalf("%s rejected by another route's breaker", path)
		}
	}
	if st := reg.Get("GET /missing").State(); st != breaker.StateClosed {
		t.Fatalf("4xx opened the breaker: %v", st)
	}
}

func TestMiddlewareRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, "t", breaker.WithConsecutiveFailures(1))
		h := b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusBadGateway)
		}))
		serve := func() *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			return w
		}
		serve()
		tests := []struct {
			wait time.Duration
			want string
		}{
			{0, "30"},
			{500 * time.Millisecond, "30"}, // 29.5s rounds up
			{9 * time.Second, "21"},        // 20.5s
			{20*time.Second + 400*time.Millisecond, "1"},
		}
		for _, tc := range tests {
			time.Sleep(tc.wait)
			w := serve()
			if w.Code != 503 || w.Header().Get("Retry-After") != tc.want {
				t.Fatalf("status %d Retry-After %q, want 503 %q", w.Code, w.Header().Get("Retry-After"), tc.want)
			}
		}
	})
}

func TestMiddlewareCountsPanicsAndIgnoresGoneClients(t *testing.T) {
	b := mustNew(t, "t", breaker.WithConsecutiveFailures(2))
	var panicking atomic.Bool
	h := b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if panicking.Load() {
			panic(http.ErrAbortHandler)
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	// A client that went away: its 500 is not the server's fault.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	}
	if c := b.Counts(); c.Calls != 0 {
		t.Fatalf("gone clients counted: %+v", c)
	}
	panicking.Store(true)
	for range 2 {
		func() {
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Fatalf("recovered %v, want the handler's panic", p)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 503 {
		t.Fatalf("after two panics: %d, want 503", w.Code)
	}
}

func TestMiddlewareOptions(t *testing.T) {
	m := newMeter(t)
	b := mustNew(t, "t", breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(m),
		breaker.WithFailureStatus(func(s int) bool { return s == http.StatusTeapot }),
		breaker.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }),
		breaker.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("X-Breaker", err.Error())
			w.WriteHeader(http.StatusTooManyRequests)
		}))
	h := b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	do := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	do("/api") // 418 is a failure here
	if w := do("/api"); w.Code != 429 || w.Header().Get("X-Breaker") != "breaker: open" {
		t.Fatalf("custom error handler: %d %v", w.Code, w.Header())
	}
	if w := do("/healthz"); w.Code != 418 {
		t.Fatalf("filtered request: %d", w.Code)
	}
	if got := m.calls(t, "t"); !maps.Equal(got, map[string]int64{"failure": 1, "rejected": 1}) {
		t.Fatalf("calls %v (the filtered request must not count)", got)
	}
}

func TestMiddlewareDryRun(t *testing.T) {
	m := newMeter(t)
	reg := mustRegistry(t, breaker.WithDryRun(true), breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(m))
	mux := http.NewServeMux()
	mux.Handle("GET /x", reg.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})))
	for range 3 {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		if w.Code != 500 {
			t.Fatalf("dry run answered %d, want the handler's 500", w.Code)
		}
	}
	if got := m.calls(t, "GET /x"); !maps.Equal(got, map[string]int64{"failure": 1, "rejected": 2}) {
		t.Fatalf("calls %v", got)
	}
	if st := reg.Get("GET /x").State(); st != breaker.StateOpen {
		t.Fatalf("state %v", st)
	}
}

// TestPackageMiddleware checks the zero-config Middleware: outside a
// ServeMux every request shares the key "*"; 10 failures open it.
func TestPackageMiddleware(t *testing.T) {
	var hits int
	h := breaker.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.WriteHeader(500)
	}))
	codes := make([]int, 0, 12)
	for i := range 12 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/"+strconv.Itoa(i), nil))
		codes = append(codes, w.Code)
	}
	if hits != 10 || codes[9] != 500 || codes[10] != 503 {
		t.Fatalf("handler ran %d times, statuses %v; want 10 failures, then 503", hits, codes)
	}
}
