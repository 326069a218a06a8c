package paved_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/ratelimit"
)

// BenchmarkChain measures what paved's rate limit and circuit breaker
// middleware add to a request, served the way users' tests serve one:
// into a fresh httptest.ResponseRecorder each time. Beside it are its
// floors: "bare", the handler alone, and "handrolled", the same two
// features written directly on x/time/rate and gobreaker.
//
// Every sub-benchmark but bare reports overhead-ns/op, its ns/op minus
// bare's, and the paved ones x-handrolled, their overhead as a multiple of
// the hand-rolled one. Both are taken between the fastest runs so far of
// each sub-benchmark, which a busy machine disturbs least, so run it with
// a count and read the last line of each:
//
//	go test -run XXX -bench Chain -benchmem -count 10 .
//
// The handler sets two headers, as many as the rate limit headers paved
// sends by default, so that growing the recorder's header map is the
// handler's cost in every variant, not the middleware's. The limits are
// generous: every request takes the allowed path, the one that matters.
func BenchmarkChain(b *testing.B) {
	const (
		limit = rate.Limit(1e9)
		burst = 1 << 20
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = textPlain
		h["Cache-Control"] = noStore
		w.WriteHeader(http.StatusOK)
	})

	fastest := map[string]float64{} // ns/op of each sub-benchmark's fastest run
	run := func(b *testing.B, name string, h http.Handler) {
		r := httptest.NewRequest("GET", "/instances", nil)
		r.RemoteAddr = "198.51.100.7:40000"
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if f, ok := fastest[name]; !ok || ns < f {
			fastest[name] = ns
		}
		bare, ok := fastest["bare"]
		if name == "bare" || !ok {
			return
		}
		over := fastest[name] - bare
		b.ReportMetric(over, "overhead-ns/op")
		if hand, ok := fastest["handrolled"]; ok && name != "handrolled" && hand > bare {
			b.ReportMetric(over/(hand-bare), "x-handrolled")
		}
	}

	b.Run("bare", func(b *testing.B) { run(b, "bare", handler) })
	b.Run("handrolled", func(b *testing.B) {
		run(b, "handrolled", handRolled(rate.NewLimiter(limit, burst), handler))
	})
	b.Run("paved/headers-off-one-bucket", func(b *testing.B) {
		l, err := ratelimit.New(limit, burst)
		if err != nil {
			b.Fatal(err)
		}
		limits, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: l}, ratelimit.WithHeaders(false))
		if err != nil {
			b.Fatal(err)
		}
		run(b, "headers-off-one-bucket", paved.Chain(limits.Middleware, breaker.Middleware)(handler))
	})
	b.Run("paved/defaults", func(b *testing.B) {
		k, err := ratelimit.NewKeyed(limit, burst)
		if err != nil {
			b.Fatal(err)
		}
		limits, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: k})
		if err != nil {
			b.Fatal(err)
		}
		run(b, "defaults", paved.Chain(limits.Middleware, breaker.Middleware)(handler))
	})
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	noStore   = []string{"no-store"}
)

// handRolled is the rate limit and breaker a service would write itself:
// one rate.Limiter for every caller, and a gobreaker two-step breaker
// that counts 5xx responses as failures, with the status recorders
// pooled so that a request allocates nothing.
func handRolled(lim *rate.Limiter, next http.Handler) http.Handler {
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: "handrolled"})
	pool := sync.Pool{New: func() any { return new(statusWriter) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !lim.Allow() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests", http.StatusTooManyRequests)
			return
		}
		done, err := cb.Allow()
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		sw := pool.Get().(*statusWriter)
		sw.ResponseWriter, sw.status = w, http.StatusOK
		next.ServeHTTP(sw, r)
		if sw.status >= 500 {
			done(errServer)
		} else {
			done(nil)
		}
		sw.ResponseWriter = nil
		pool.Put(sw)
	})
}

var errServer = errors.New("server error")

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
