package overload_test

import (
	"context"
	"testing"

	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/overload"
)

// BenchmarkStatus measures the paths a status registration could touch,
// built registered on the status page and not: a Limiter admitting a
// call, a full Bulkhead shedding one (counting it for the page), and a
// Throttle rejecting one locally (counting it too).
func BenchmarkStatus(b *testing.B) {
	ctx := context.Background()
	for _, registered := range []bool{false, true} {
		suffix := "/unregistered"
		if registered {
			suffix = "/registered"
		}
		b.Run("limiter-admit"+suffix, func(b *testing.B) {
			registry.SetEnabled(registered)
			defer registry.SetEnabled(true)
			l, err := overload.NewLimiter("bench", overload.WithLimits(1000, 1000))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				tk, err := l.Acquire(ctx, overload.Default)
				if err != nil {
					b.Fatal(err)
				}
				tk.Drop()
			}
		})
		b.Run("bulkhead-shed"+suffix, func(b *testing.B) {
			registry.SetEnabled(registered)
			defer registry.SetEnabled(true)
			bh, err := overload.NewBulkhead("bench", 1)
			if err != nil {
				b.Fatal(err)
			}
			release, _ := bh.Acquire(ctx)
			defer release()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bh.Acquire(ctx); err == nil {
					b.Fatal("admitted over the cap")
				}
			}
		})
		b.Run("throttle-reject"+suffix, func(b *testing.B) {
			registry.SetEnabled(registered)
			defer registry.SetEnabled(true)
			th, err := overload.NewThrottle("bench", overload.WithRandom(func() float64 { return 0 }))
			if err != nil {
				b.Fatal(err)
			}
			th.Refuse()
			b.ReportAllocs()
			for b.Loop() {
				if th.Allow(ctx) == nil {
					b.Fatal("sent")
				}
			}
		})
	}
}
