package redisrate_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/redistest"
	"github.com/paved-go/paved/ratelimit/redisrate"
)

// BenchmarkRedisAllow compares one decision (raw: a PING round trip, the
// least a call to Redis costs; evalsha: the decision script called
// directly with go-redis, the primitive Allow wraps; paved: one Allow, the
// script by EVALSHA that reads TIME, GETs and SETs the key, behind the
// timeout and the breaker) serially and from 16 goroutines
// (b.SetParallelism(8) on 2 cores) over one client, against a local
// redis-server. Keys rotate over 1,000 buckets that always have tokens,
// so every decision writes. breaker-open is a decision while Redis is
// down and the breaker open: the Local fallback's, with no round trip.
func BenchmarkRedisAllow(b *testing.B) {
	s := redistest.Start(b)
	c := client(b, s)
	// A long timeout: on a busy machine a call may take longer than the
	// default 50 ms, and the fallback's decisions are not what is measured.
	l := limiter(b, "bench", c, 1e9, 1e9, redisrate.WithTimeout(5*time.Second),
		redisrate.WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	// redisCPU is the CPU time the redis-server has used, in seconds, by
	// INFO cpu: with parallel callers the server's one thread is what
	// bounds the calls per second, so each sub-benchmark reports the
	// server's CPU time per call beside its own time.
	redisCPU := func(b *testing.B) float64 {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var t float64
		for line := range strings.SplitSeq(info, "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "used_cpu_sys" || k == "used_cpu_user" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				t += f
			}
		}
		return t
	}
	var cpu0 float64
	start := func(b *testing.B) {
		b.ReportAllocs()
		cpu0 = redisCPU(b)
		b.ResetTimer()
	}
	perSecond := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		b.ReportMetric((redisCPU(b)-cpu0)*1e6/float64(b.N), "redis-µs/op")
	}
	// The script's arguments as Allow passes them for this quota: the
	// emission interval in microseconds, the burst and n.
	argT, argB := "0.001", "1000000000"
	if err := redisrate.Script.Load(ctx, c).Err(); err != nil {
		b.Fatal(err)
	}
	rawKeys := make([][]string, len(keys))
	for i, k := range keys {
		rawKeys[i] = []string{redisrate.DefaultPrefix + "raw:{" + k + "}"}
	}
	evalsha := func(i int) error {
		return redisrate.Script.EvalSha(ctx, c, rawKeys[i%len(keys)], argT, argB, 1).Err()
	}
	b.Run("serial/raw", func(b *testing.B) {
		start(b)
		for b.Loop() {
			if err := c.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	b.Run("serial/evalsha", func(b *testing.B) {
		start(b)
		i := 0
		for b.Loop() {
			if err := evalsha(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		perSecond(b)
	})
	b.Run("serial/paved", func(b *testing.B) {
		start(b)
		i := 0
		for b.Loop() {
			if !l.Allow(ctx, keys[i%len(keys)]).Allowed {
				b.Fatal("limited")
			}
			i++
		}
		perSecond(b)
	})
	b.Run("breaker-open", func(b *testing.B) {
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
		defer down.Close()
		l := limiter(b, "down", down, 1e9, 1e9, redisrate.WithLogger(slog.New(slog.DiscardHandler)),
			redisrate.WithBreaker(breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(time.Hour)))
		l.Allow(ctx, "k") // fails and opens the breaker
		start(b)
		i := 0
		for b.Loop() {
			if !l.Allow(ctx, keys[i%len(keys)]).Allowed {
				b.Fatal("limited")
			}
			i++
		}
		perSecond(b)
	})
	b.Run("parallel/raw", func(b *testing.B) {
		start(b)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Ping(ctx).Err(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		perSecond(b)
	})
	b.Run("parallel/evalsha", func(b *testing.B) {
		start(b)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := evalsha(i); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		perSecond(b)
	})
	b.Run("parallel/paved", func(b *testing.B) {
		start(b)
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if !l.Allow(ctx, keys[i%len(keys)]).Allowed {
					b.Error("limited")
					return
				}
				i++
			}
		})
		perSecond(b)
	})
}
