package redisrate_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/redistest"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
)

const (
	msgCutOff  = "redisrate: Redis is cut off by the open breaker"
	msgResumed = "redisrate: Redis answers again"
)

// fallbackCounts returns paved.ratelimit.fallbacks by limiter/reason.
func fallbackCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.ratelimit.fallbacks" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				lim, _ := p.Attributes.Value(otelx.AttrRateLimitLimiter)
				reason, _ := p.Attributes.Value("reason")
				got[lim.AsString()+"/"+reason.AsString()] += p.Value
			}
		}
	}
	return got
}

// TestFallbackWhenRedisStops stops Redis under a limiter of each fallback
// mode: decisions go on by the fallback, the first failures open the
// breaker, which then keeps calls from Redis, and the outage is logged
// once and counted in every decision.
func TestFallbackWhenRedisStops(t *testing.T) {
	hour := rate.Every(time.Hour)
	tests := []struct {
		fallback redisrate.Fallback
		want     func(i int, d ratelimit.Decision) bool // decision i of the outage
	}{
		// The local bucket never saw the shared token: it starts full.
		{redisrate.Local, func(i int, d ratelimit.Decision) bool {
			if i < 3 {
				return d.Allowed && d.Remaining == 2-i
			}
			return !d.Allowed && d.RetryAfter > 59*time.Minute
		}},
		{redisrate.FailOpen, func(_ int, d ratelimit.Decision) bool { return d.Allowed && d.Remaining == 3 }},
		{redisrate.FailClosed, func(_ int, d ratelimit.Decision) bool {
			return !d.Allowed && d.RetryAfter == time.Hour && d.ResetAfter == 3*time.Hour
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fallback.String(), func(t *testing.T) {
			s := redistest.Start(t)
			reader := sdkmetric.NewManualReader()
			var logs logBuffer
			l := limiter(t, "down", client(t, s), hour, 3,
				redisrate.WithFallback(tc.fallback),
				redisrate.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
				redisrate.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				redisrate.WithBreaker(breaker.WithConsecutiveFailures(2)))
			ctx := context.Background()
			const key = "client-7f3a"
			if d := l.Allow(ctx, key); !d.Allowed || d.Remaining != 2 {
				t.Fatalf("shared decision %+v", d)
			}
			s.Stop()
			for i := range 10 {
				start := time.Now()
				d := l.Allow(ctx, key)
				if took := time.Since(start); took > 5*time.Second {
					t.Fatalf("decision %d took %v", i, took)
				}
				if !tc.want(i, d) {
					t.Fatalf("decision %d with Redis down: %+v", i, d)
				}
			}
			got := fallbackCounts(t, reader)
			if failed := got["down/error"] + got["down/timeout"]; failed != 2 || got["down/breaker_open"] != 8 {
				t.Fatalf("fallbacks = %v, want 2 failed calls, then 8 with the breaker open", got)
			}
			if n := logs.count(msgCutOff); n != 1 {
				t.Fatalf("%d outage lines, want 1:\n%s", n, logs.String())
			}
			if logs.count("breaker opened") != 1 || logs.count("breaker=redisrate:down") == 0 {
				t.Fatalf("want the breaker's own line:\n%s", logs.String())
			}
			if logs.count(key) != 0 {
				t.Fatalf("the key is logged:\n%s", logs.String())
			}
		})
	}
}

// TestResumesAfterRestart: once Redis is back, the breaker half-opens, a
// probe succeeds, and decisions are shared again, between instances too.
func TestResumesAfterRestart(t *testing.T) {
	s := redistest.Start(t)
	var logs logBuffer
	opts := []redisrate.Option{
		redisrate.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		redisrate.WithBreaker(breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(50*time.Millisecond), breaker.WithHalfOpenProbes(1)),
	}
	a := limiter(t, "restart", client(t, s), rate.Every(time.Hour), 4, opts...)
	b := limiter(t, "restart", client(t, s), rate.Every(time.Hour), 4, opts...)
	ctx := context.Background()
	s.Stop()
	for _, l := range []*redisrate.Limiter{a, b} {
		for range 3 {
			l.Allow(ctx, "outage")
		}
	}
	s.Restart()
	check := client(t, s)
	// Each limiter resumes once its breaker lets a probe through and the
	// probe succeeds: a decision then writes its key in Redis. Bounded
	// polling: the breaker half-opens 50 ms after it opened.
	for i, l := range []*redisrate.Limiter{a, b} {
		key := []string{"probe-a", "probe-b"}[i]
		deadline := time.Now().Add(10 * time.Second)
		for {
			l.Allow(ctx, key)
			if n, err := check.Exists(ctx, "paved:rl:restart:{"+key+"}").Result(); err == nil && n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("limiter %d made no shared decision within 10 s of the restart:\n%s", i, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	allowed := 0
	for i := range 10 {
		if []*redisrate.Limiter{a, b}[i%2].Allow(ctx, "after").Allowed {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("after the restart the two limiters allowed %d, want the burst, 4", allowed)
	}
	if logs.count(msgCutOff) < 2 || logs.count(msgResumed) < 2 || logs.count(msgResumed) > logs.count(msgCutOff) {
		t.Fatalf("want each limiter to log its outage and its end:\n%s", logs.String())
	}
}

// TestTimeoutThenBreaker: a Redis that does not answer costs each
// decision the timeout until the breaker opens; after that no call is
// made, so decisions cost no wait at all.
func TestTimeoutThenBreaker(t *testing.T) {
	h := redistest.StartHang(t)
	c := redis.NewClient(&redis.Options{Addr: h.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	reader := sdkmetric.NewManualReader()
	const timeout = 100 * time.Millisecond
	l := limiter(t, "hang", c, rate.Every(time.Hour), 2,
		redisrate.WithTimeout(timeout),
		redisrate.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		redisrate.WithLogger(slog.New(slog.DiscardHandler)),
		redisrate.WithBreaker(breaker.WithConsecutiveFailures(2), breaker.WithOpenDuration(time.Hour)))
	ctx := context.Background()
	for i := range 2 {
		start := time.Now()
		d := l.Allow(ctx, "k")
		took := time.Since(start)
		if took < timeout || took > timeout+5*time.Second {
			t.Fatalf("decision %d took %v, want the timeout %v", i, took, timeout)
		}
		if !d.Allowed || d.Remaining != 1-i {
			t.Fatalf("decision %d: %+v, want the local bucket's", i, d)
		}
	}
	conns, bytes := h.Conns(), h.Bytes()
	start := time.Now()
	for range 20 {
		l.Allow(ctx, "k")
	}
	if took := time.Since(start); took >= timeout {
		t.Fatalf("20 decisions with the breaker open took %v, as long as a timeout", took)
	}
	if got := fallbackCounts(t, reader); got["hang/timeout"] != 2 || got["hang/breaker_open"] != 20 {
		t.Fatalf("fallbacks = %v, want 2 timeouts and 20 with the breaker open", got)
	}
	if h.Conns() != conns || h.Bytes() != bytes {
		t.Fatalf("%d connections and %d bytes after the breaker opened, want none", h.Conns()-conns, h.Bytes()-bytes)
	}
}
