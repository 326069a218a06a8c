package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/internal/redistest"
)

// BenchmarkL2Get: an L1 hit of a cache with a second level next to a plain
// cache's hit (the same path), and an L2 hit (the Level's one script call,
// and a cache miss served by it) next to a raw GET round trip.
func BenchmarkL2Get(b *testing.B) {
	s := redistest.Start(b)
	client := newClient(b, s)
	ctx := context.Background()
	copts := []cache.Option{cache.WithTTL(time.Hour)}
	inst := newInstance[string, string](b, client, copts)
	value := func(context.Context, string) (string, error) { return "a value of some thirty bytes..", nil }
	if _, err := inst.c.Get(ctx, "k", value); err != nil {
		b.Fatal(err)
	}
	for client.Exists(ctx, "paved:cache:test:{k}").Val() == 0 { // the write-back
		time.Sleep(time.Millisecond)
	}
	client.Set(ctx, "raw", "a value of some thirty bytes..", time.Hour)

	b.Run("L1/raw", func(b *testing.B) {
		plain, err := cache.New[string, string]("plain", copts...)
		if err != nil {
			b.Fatal(err)
		}
		defer plain.Close()
		plain.Set("k", "v")
		b.ReportAllocs()
		for b.Loop() {
			plain.Get(ctx, "k", value)
		}
	})
	b.Run("L1/paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst.c.Get(ctx, "k", value)
		}
	})
	b.Run("L2/raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := client.Get(ctx, "raw").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("L2/paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, found, err := inst.l.Get(ctx, "k"); !found || err != nil {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("L2/paved/via-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst.c.Delete("k") // this instance's copy only
			if _, err := inst.c.Get(ctx, "k", value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("L2/raw/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := client.Get(ctx, "raw").Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("L2/paved/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, found, err := inst.l.Get(ctx, "k"); !found || err != nil {
					b.Fatal(found, err)
				}
			}
		})
	})
}
