package breaker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

// TestMiddlewarePanicsAndGoneClients checks how a handler's end counts:
// a client that went away (its request context canceled, or the
// http.ErrAbortHandler panic net/http and httputil.ReverseProxy use for
// it) is ignored, other panics are failures, and every panic reaches the
// caller.
func TestMiddlewarePanicsAndGoneClients(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		ctx       context.Context
		handler   func(w http.ResponseWriter)
		wantPanic any
		want      map[string]int64
	}{
		{"gone client's 502", canceled, func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, nil, map[string]int64{"ignored": 3}},
		{"abort handler", context.Background(), func(http.ResponseWriter) { panic(http.ErrAbortHandler) }, http.ErrAbortHandler, map[string]int64{"ignored": 3}},
		{"abort after headers", context.Background(), func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			panic(http.ErrAbortHandler)
		}, http.ErrAbortHandler, map[string]int64{"ignored": 3}},
		{"other panic", context.Background(), func(http.ResponseWriter) { panic(boom) }, boom, map[string]int64{"failure": 3}},
		{"live client's 502", context.Background(), func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, nil, map[string]int64{"failure": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMeter(t)
			b := mustNew(t, "t", breaker.WithConsecutiveFailures(4), breaker.WithMeterProvider(m))
			h := b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handler(w) }))
			for range 3 {
				func() {
					defer func() {
						if p := recover(); p != tc.wantPanic {
							t.Fatalf("recovered %v, want %v", p, tc.wantPanic)
						}
					}()
					h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(tc.ctx))
				}()
			}
			if got := m.calls(t, "t"); !maps.Equal(got, tc.want) {
				t.Fatalf("calls %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMiddlewareIgnoresHangUpsThroughReverseProxy is the gateway's case:
// clients hanging up on a proxied route, before the response headers
// (ReverseProxy answers 502 to a canceled request) or while the body
// streams (ReverseProxy panics with http.ErrAbortHandler), must not open
// the route's breaker for the next client.
func TestMiddlewareIgnoresHangUpsThroughReverseProxy(t *testing.T) {
	tests := []struct {
		name        string
		afterHeader bool // hang up once the headers arrived, else before
		wantPanic   any
	}{
		{"before headers", false, nil},
		{"while the body streams", true, http.ErrAbortHandler},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hung := make(chan struct{})       // closed when the hang-ups are over
			arrived := make(chan struct{}, 1) // a hanging request reached the upstream
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("hang") == "" {
					_, _ = io.WriteString(w, "launched")
					return
				}
				arrived <- struct{}{}
				if tc.afterHeader {
					_, _ = io.WriteString(w, "partial")
					w.(http.Flusher).Flush()
				}
				select {
				case <-hung:
				case <-r.Context().Done():
				}
			}))
			defer upstream.Close()
			target, _ := url.Parse(upstream.URL)
			proxy := httputil.NewSingleHostReverseProxy(target)
			proxy.ErrorLog = log.New(io.Discard, "", 0)

			m := newMeter(t)
			reg := mustRegistry(t, breaker.WithMeterProvider(m))
			ended := make(chan any, 1)
			mux := http.NewServeMux()
			mux.Handle("GET /launch", reg.Middleware(proxy))
			gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() {
					p := recover()
					ended <- p
					if p != nil {
						panic(p)
					}
				}()
				mux.ServeHTTP(w, r)
			}))
			gateway.Config.ErrorLog = log.New(io.Discard, "", 0)
			defer gateway.Close()

			for i := range 12 {
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, "GET", gateway.URL+"/launch?hang=1", nil)
				// progress gets the status the client saw, once it read
				// the partial body when the upstream streams one.
				progress := make(chan int, 1)
				go func() {
					resp, err := gateway.Client().Do(req)
					if err != nil {
						progress <- 0
						return
					}
					defer resp.Body.Close()
					if resp.StatusCode == http.StatusOK && tc.afterHeader {
						_, _ = io.ReadFull(resp.Body, make([]byte, len("partial")))
					}
					progress <- resp.StatusCode
				}()
				if tc.afterHeader {
					if code := <-progress; code != http.StatusOK {
						t.Fatalf("hang-up %d: the gateway answered %d", i, code)
					}
					<-arrived
				} else {
					select {
					case <-arrived:
					case code := <-progress:
						t.Fatalf("hang-up %d: the gateway answered %d", i, code)
					}
				}
				cancel()
				if p := <-ended; p != tc.wantPanic {
					t.Fatalf("hang-up %d: gateway handler ended with %v, want %v", i, p, tc.wantPanic)
				}
			}
			close(hung)
			resp, err := gateway.Client().Get(gateway.URL + "/launch")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			<-ended
			if resp.StatusCode != http.StatusOK || string(body) != "launched" {
				t.Fatalf("after 12 hang-ups: %d %q, want 200 launched", resp.StatusCode, body)
			}
			if got, want := m.calls(t, "GET /launch"), map[string]int64{"ignored": 12, "success": 1}; !maps.Equal(got, want) {
				t.Fatalf("calls %v, want %v", got, want)
			}
		})
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
