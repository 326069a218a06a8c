package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/faults"
)

// hello answers "hello, world" and counts the requests it served.
type hello struct{ served atomic.Int64 }

func (h *hello) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.served.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hello, world")
}

func serve(t *testing.T, inj *faults.Injector) (*httptest.Server, *hello) {
	t.Helper()
	h := &hello{}
	mux := http.NewServeMux()
	mux.Handle("GET /hello/{who}", inj.Middleware(h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, h
}

func TestMiddlewareOffInjectsNothing(t *testing.T) {
	inj := quiet(t)
	srv, h := serve(t, inj)
	resp, err := srv.Client().Get(srv.URL + "/hello/you")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello, world" || resp.Header.Get("Paved-Fault") != "" || h.served.Load() != 1 {
		t.Fatalf("got %d %q, Paved-Fault %q, served %d", resp.StatusCode, body, resp.Header.Get("Paved-Fault"), h.served.Load())
	}
}

func TestMiddlewareError(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Route: "GET /hello/{who}"}})
	srv, h := serve(t, inj)
	resp, err := srv.Client().Get(srv.URL + "/hello/you")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/problem+json" ||
		resp.Header.Get("Paved-Fault") != "drill" || p.Status != 503 || p.Detail != "faults: injected error (rule drill)" {
		t.Fatalf("got %d %s, Paved-Fault %q, problem %+v", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Paved-Fault"), p)
	}
	if h.served.Load() != 0 {
		t.Fatal("the handler ran behind an injected error")
	}
}

func TestMiddlewareReset(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "cut", Percent: 100, Reset: true})
	srv, h := serve(t, inj)
	_, err := srv.Client().Get(srv.URL + "/hello/you")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Get through a reset: %v, want a connection reset", err)
	}
	if h.served.Load() != 0 {
		t.Fatal("the handler ran behind a reset")
	}
}

func TestMiddlewareAbort(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "cut", Percent: 100, Abort: true})
	srv, h := serve(t, inj)
	resp, err := srv.Client().Get(srv.URL + "/hello/you")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || string(body) != "hello," || resp.StatusCode != 200 || resp.Header.Get("Paved-Fault") != "cut" {
		t.Fatalf("read %q, %v (status %d, Paved-Fault %q); want \"hello,\" and a failed read",
			body, err, resp.StatusCode, resp.Header.Get("Paved-Fault"))
	}
	if h.served.Load() != 1 {
		t.Fatalf("the handler ran %d times, want 1: an abort loses the answer, not the work", h.served.Load())
	}
}

func TestMiddlewareLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: 200 * time.Millisecond, Jitter: 100 * time.Millisecond})
		h := &hello{}
		w := httptest.NewRecorder()
		start := time.Now()
		inj.Middleware(h).ServeHTTP(w, httptest.NewRequest("GET", "/hello/you", nil))
		took := time.Since(start)
		if took < 200*time.Millisecond || took >= 300*time.Millisecond {
			t.Fatalf("took %v, want [200ms, 300ms)", took)
		}
		if w.Code != 200 || w.Body.String() != "hello, world" || w.Header().Get("Paved-Fault") != "slow" {
			t.Fatalf("got %d %q, Paved-Fault %q", w.Code, w.Body, w.Header().Get("Paved-Fault"))
		}
	})
}

func TestMiddlewareLatencyEndsWithTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    func(context.Context) (context.Context, context.CancelFunc)
		status int
	}{
		{"canceled", func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}, 499},
		{"deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		}, 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: time.Minute})
				h := &hello{}
				ctx, cancel := tc.ctx(t.Context())
				defer cancel()
				w := httptest.NewRecorder()
				start := time.Now()
				inj.Middleware(h).ServeHTTP(w, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
				if took := time.Since(start); took != time.Second {
					t.Fatalf("took %v, want 1s: the request ended then", took)
				}
				if w.Code != tc.status || h.served.Load() != 0 {
					t.Fatalf("answered %d, served %d; want %d, 0", w.Code, h.served.Load(), tc.status)
				}
			})
		})
	}
}

func TestMiddlewareNonMatchingPassesThrough(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Header: "X-Drill: on"}})
	h := &hello{}
	for _, tc := range []struct {
		name   string
		drill  string
		status int
	}{
		{"without the header", "", 200},
		{"with another value", "off", 200},
		{"with the header", "on", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.drill != "" {
				r.Header.Set("X-Drill", tc.drill)
			}
			w := httptest.NewRecorder()
			inj.Middleware(h).ServeHTTP(w, r)
			if w.Code != tc.status || (tc.status == 200) != (w.Header().Get("Paved-Fault") == "") {
				t.Fatalf("answered %d, Paved-Fault %q; want %d", w.Code, w.Header().Get("Paved-Fault"), tc.status)
			}
		})
	}
}

func TestMiddlewareRatesOverHTTP(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "half", Percent: 50, Status: 503})
	h := inj.Middleware(&hello{})
	const n = 10000
	failed := 0
	for range n {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code == 503 {
			failed++
		}
	}
	if failed < n*47/100 || failed > n*53/100 {
		t.Fatalf("%d of %d failed, want 50%% ± 3", failed, n)
	}
}

func TestNilInjector(t *testing.T) {
	var inj *faults.Injector
	h := &hello{}
	w := httptest.NewRecorder()
	inj.Middleware(h).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || inj.Active() || inj.Rules() != nil || inj.Pick(t.Context(), faults.Call{}).Injected() {
		t.Fatalf("a nil Injector injected: %d", w.Code)
	}
	if inj.Transport(nil) == nil {
		t.Fatal("Transport of a nil Injector is nil")
	}
	if err := inj.Set(faults.Rule{Name: "x", Percent: 1, Status: 503}); err == nil || !strings.HasPrefix(err.Error(), "faults: ") {
		t.Fatalf("Set on nil: %v", err)
	}
	inj.Clear()
}

func TestMiddlewareErrorHandler(t *testing.T) {
	var got error
	inj, err := faults.New("", faults.WithLogger(slog.New(slog.DiscardHandler)), faults.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := inj.Set(faults.Rule{Name: "drill", Percent: 100, Status: 503}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	inj.Middleware(&hello{}).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	ie, ok := errors.AsType[*faults.InjectedError](got)
	if w.Code != http.StatusTeapot || !ok || ie.Status != 503 || w.Header().Get("Paved-Fault") != "drill" {
		t.Fatalf("answered %d with %v, Paved-Fault %q", w.Code, got, w.Header().Get("Paved-Fault"))
	}
}

func TestMiddlewareOverHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule faults.Rule
		body string // read before the failure
	}{
		{"reset", faults.Rule{Name: "cut", Percent: 100, Reset: true}, ""},
		{"abort", faults.Rule{Name: "cut", Percent: 100, Abort: true}, "hello,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hello{}
			srv := httptest.NewUnstartedServer(quiet(t, tc.rule).Middleware(h))
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			var body []byte
			if err == nil {
				if resp.ProtoMajor != 2 {
					t.Fatalf("served over %s", resp.Proto)
				}
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || string(body) != tc.body {
				t.Fatalf("read %q, %v; want %q and an error", body, err, tc.body)
			}
		})
	}
}
