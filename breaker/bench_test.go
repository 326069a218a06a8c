package breaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sony/gobreaker/v2"

	"github.com/paved-go/paved/breaker"
)

// BenchmarkDo compares the success path of b.Do with gobreaker's Execute
// on the same settings (the default trip rule, 3 probes, 30s open).
func BenchmarkDo(b *testing.B) {
	raw := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "raw",
		MaxRequests: breaker.DefaultProbes,
		Timeout:     breaker.DefaultOpenDuration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			n := c.TotalSuccesses + c.TotalFailures
			return n >= breaker.DefaultMinCalls && float64(c.TotalFailures)/float64(n) >= breaker.DefaultFailureRate
		},
	})
	work := func() (struct{}, error) { return struct{}{}, nil }
	paved := mustNew(b, "paved")
	ctx := context.Background()

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = raw.Execute(work)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = paved.Do(ctx, succeed)
		}
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = raw.Execute(work)
			}
		})
	})
	b.Run("paved-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = paved.Do(ctx, succeed)
			}
		})
	})
	slow := mustNew(b, "slow", breaker.WithSlowCallThreshold(time.Second))
	b.Run("paved-slow-threshold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = slow.Do(ctx, succeed)
		}
	})
}

// BenchmarkRegistry compares a hit in a Registry of 10k keys with a hit
// in golang-lru's thread-safe Cache.
func BenchmarkRegistry(b *testing.B) {
	const n = 10_000
	keys := make([]string, n)
	raw, _ := lru.New[string, *breaker.Breaker](n)
	reg := mustRegistry(b)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
		raw.Add(keys[i], reg.Get(keys[i]))
	}
	for _, k := range keys { // settle the LRU order
		reg.Get(k)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			raw.Get(keys[i%n])
			i++
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			reg.Get(keys[i%n])
			i++
		}
	})
	var seq atomic.Int64
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				raw.Get(keys[i%n])
				i++
			}
		})
	})
	b.Run("paved-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919
			for pb.Next() {
				reg.Get(keys[i%n])
				i++
			}
		})
	})
}

// discardWriter is a reusable ResponseWriter, so the benchmark measures
// the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware measures the overhead of the middleware alone,
// serving into a reusable ResponseWriter: bare is the handler, raw a
// hand-rolled gobreaker TwoStepCircuitBreaker middleware around it, paved
// a Registry's Middleware (the route's breaker looked up by pattern) and
// paved-breaker (*Breaker).Middleware. Overheads are the differences from
// bare.
func BenchmarkMiddleware(b *testing.B) {
	ok := []byte("ok")
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ok) })
	req := httptest.NewRequest("GET", "/instances", nil)
	req.Pattern = "GET /instances"
	w := &discardWriter{h: http.Header{}}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"raw", rawMiddleware(gobreaker.NewTwoStepCircuitBreaker[struct{}](rawSettings("raw")), bare)},
		{"paved", mustRegistry(b).Middleware(bare)},
		{"paved-breaker", mustNew(b, "paved").Middleware(bare)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// statusWriter is the status-recording wrapper a hand-rolled middleware
// would write.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

var errServerStatus = errors.New("server error")

// rawMiddleware is a hand-rolled gobreaker middleware: the primitive the
// package's Middleware replaces.
func rawMiddleware(cb *gobreaker.TwoStepCircuitBreaker[struct{}], next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done, err := cb.Allow()
		if err != nil {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status >= 500 {
			done(errServerStatus)
			return
		}
		done(nil)
	})
}

func rawSettings(name string) gobreaker.Settings {
	return gobreaker.Settings{
		Name:        name,
		MaxRequests: breaker.DefaultProbes,
		Timeout:     breaker.DefaultOpenDuration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			n := c.TotalSuccesses + c.TotalFailures
			return n >= breaker.DefaultMinCalls && float64(c.TotalFailures)/float64(n) >= breaker.DefaultFailureRate
		},
	}
}

// BenchmarkMiddlewareRecorder serves a request into a fresh
// httptest.ResponseRecorder, as a handler test or a server would: raw is
// a hand-rolled gobreaker TwoStepCircuitBreaker middleware, paved is
// (*Breaker).Middleware; the -mux pair puts each behind a ServeMux route,
// paved with the zero-config per-route breaker.Middleware. bare is the
// handler alone, so overheads can be read as differences.
func BenchmarkMiddlewareRecorder(b *testing.B) {
	ok := []byte(`{"id":"i-1"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ok)
	})
	const pattern = "GET /instances/{id}"
	req := httptest.NewRequest("GET", "/instances/i-1", nil)

	bareMux := http.NewServeMux()
	bareMux.Handle(pattern, h)
	rawMux := http.NewServeMux()
	rawMux.Handle(pattern, rawMiddleware(gobreaker.NewTwoStepCircuitBreaker[struct{}](rawSettings(pattern)), h))
	pavedMux := http.NewServeMux()
	pavedMux.Handle(pattern, breaker.Middleware(h))
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", h},
		{"raw", rawMiddleware(gobreaker.NewTwoStepCircuitBreaker[struct{}](rawSettings("raw")), h)},
		{"paved", mustNew(b, "paved").Middleware(h)},
		{"bare-mux", bareMux},
		{"raw-mux", rawMux},
		{"paved-mux", pavedMux},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkTransport compares a bare RoundTripper with the same one behind
// (*Breaker).Transport: without a slow-call threshold, with one on a GET,
// and with one on a POST, whose body upload an httptrace.ClientTrace
// leaves out of the clock.
func BenchmarkTransport(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	get := httptest.NewRequest("GET", "http://upstream.test/items", nil)
	post := httptest.NewRequest("POST", "http://upstream.test/items", io.NopCloser(strings.NewReader("{}")))
	slow := mustNew(b, "slow", breaker.WithSlowCallThreshold(time.Second)).Transport(base)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
		req  *http.Request
	}{
		{"raw", base, get},
		{"paved", mustNew(b, "paved").Transport(base), get},
		{"paved-slow-threshold", slow, get},
		{"paved-slow-threshold-body", slow, post},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.rt.RoundTrip(bc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
