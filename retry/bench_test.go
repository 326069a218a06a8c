package retry_test

import (
	"context"
	"testing"

	"github.com/paved-go/paved/retry"
)

//go:noinline
func work(context.Context) error { return nil }

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	r, err := retry.New() // defaults, with the default budget
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = work(ctx)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, work)
		}
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = work(ctx)
			}
		})
	})
	b.Run("paved-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = r.Do(ctx, work)
			}
		})
	})
}
