package breaker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// BenchmarkMiddleware compares a bare handler with the same handler behind
// a Registry's Middleware (the route's breaker looked up by pattern).
func BenchmarkMiddleware(b *testing.B) {
	ok := []byte("ok")
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ok) })
	paved := mustRegistry(b).Middleware(bare)
	req := httptest.NewRequest("GET", "/instances", nil)
	req.Pattern = "GET /instances"
	w := &discardWriter{h: http.Header{}}

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bare.ServeHTTP(w, req)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			paved.ServeHTTP(w, req)
		}
	})
}
