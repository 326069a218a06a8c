package redisbreaker_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/redisbreaker"
	"github.com/paved-go/paved/internal/redistest"
)

// commandCounter is a go-redis hook counting the commands sent, so the
// benchmarks report round trips per call.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// BenchmarkExecute compares one call through a breaker with shared state
// on the closed path (paved) with a PING round trip (raw) and a local
// breaker (local). roundtrips/op counts the Redis commands per call: 5
// for a lone call (read; then lock, read, write, unlock), fewer when
// concurrent calls share an exchange.
func BenchmarkExecute(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()
	counter := &commandCounter{}
	client.AddHook(counter)
	// Generous bounds: a busy machine must not make the breaker fall
	// back to local state, which would measure the local path instead.
	store, err := redisbreaker.NewStore(client, redisbreaker.WithTimeout(time.Second),
		redisbreaker.WithLockTTL(5*time.Second), redisbreaker.WithLockWait(5*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	shared, err := breaker.New("bench", quiet, breaker.WithSharedState(store), breaker.WithConsecutiveFailures(5))
	if err != nil {
		b.Fatal(err)
	}
	local, err := breaker.New("bench-local", quiet, breaker.WithConsecutiveFailures(5))
	if err != nil {
		b.Fatal(err)
	}
	perCall := func(b *testing.B, start int64) {
		rt := float64(counter.n.Load()-start) / float64(b.N)
		if rt < 1 {
			b.Fatalf("%.3f round trips per call: the breaker fell back to local state", rt)
		}
		b.ReportMetric(rt, "roundtrips/op")
	}

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		start := counter.n.Load()
		for b.Loop() {
			if err := client.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
		perCall(b, start)
	})
	b.Run("local", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := local.Do(ctx, succeed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		start := counter.n.Load()
		for b.Loop() {
			if err := shared.Do(ctx, succeed); err != nil {
				b.Fatal(err)
			}
		}
		perCall(b, start)
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := client.Ping(ctx).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("paved-parallel", func(b *testing.B) {
		b.ReportAllocs()
		start := counter.n.Load()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := shared.Do(ctx, succeed); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perCall(b, start)
	})
	// 16 callers: outcomes finishing during an exchange share the next.
	b.Run("paved-parallel-16", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		start := counter.n.Load()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := shared.Do(ctx, succeed); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perCall(b, start)
	})
	// Redis down: what a call costs once the breaker decides locally.
	down, err := breaker.New("bench-down", quiet, breaker.WithSharedState(deadStore(b)), breaker.WithConsecutiveFailures(5))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("paved-redis-down", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := down.Do(ctx, succeed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// deadStore is a Store on a loopback port nothing listens on.
func deadStore(b *testing.B) *redisbreaker.Store {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = c.Close() })
	st, err := redisbreaker.NewStore(c)
	if err != nil {
		b.Fatal(err)
	}
	return st
}
