package overload_test

import (
	"context"
	"testing"

	"github.com/paved-go/paved/overload"
)

// BenchmarkAcquire measures admitting and releasing a call under the
// limit: a buffered-channel semaphore (raw) against a Bulkhead and a
// Limiter, serially and from parallel goroutines.
func BenchmarkAcquire(b *testing.B) {
	ctx := context.Background()
	const limit = 1 << 20
	b.Run("raw", func(b *testing.B) {
		sem := make(chan struct{}, limit)
		b.ReportAllocs()
		for b.Loop() {
			sem <- struct{}{}
			<-sem
		}
	})
	bh, err := overload.NewBulkhead("bench", limit)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bulkhead", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			release, err := bh.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	lim, err := overload.NewLimiter("bench", overload.WithLimits(limit, limit))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("limiter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t, err := lim.Acquire(ctx, overload.Default)
			if err != nil {
				b.Fatal(err)
			}
			t.Done()
		}
	})
	b.Run("raw/parallel", func(b *testing.B) {
		sem := make(chan struct{}, limit)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sem <- struct{}{}
				<-sem
			}
		})
	})
	b.Run("bulkhead/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				release, err := bh.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				release()
			}
		})
	})
	b.Run("limiter/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t, err := lim.Acquire(ctx, overload.Default)
				if err != nil {
					b.Error(err)
					return
				}
				t.Done()
			}
		})
	})
}
