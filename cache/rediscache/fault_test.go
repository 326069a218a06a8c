package rediscache_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/cache/rediscache"
	"github.com/paved-go/paved/internal/redistest"
)

// TestRedisDown: with Redis stopped, Gets are served from the cache and
// the loader within the timeout, the breaker opens (logged once,
// counted); once Redis is back, the second level and invalidation
// resume.
func TestRedisDown(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	var logs logBuffer
	reader := metric.NewManualReader()
	a := newInstance[string, string](t, client, nil,
		rediscache.WithTimeout(100*time.Millisecond),
		rediscache.WithBreaker(breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(5*time.Second)),
		rediscache.WithLogger(logs.logger()),
		rediscache.WithMeterProvider(metric.NewMeterProvider(metric.WithReader(reader))))
	b := newInstance[string, string](t, client, nil)
	var la, lb loads
	if _, err := a.c.Get(ctx, "warm", la.value("warm")); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if v, err := a.c.Get(ctx, "warm", nil); v != "warm" || err != nil {
		t.Fatalf("L1 hit with Redis down: %q, %v", v, err)
	}
	for i := range 10 {
		start := time.Now()
		v, err := a.c.Get(ctx, "down"+strconv.Itoa(i), la.value("local"))
		if v != "local" || err != nil {
			t.Fatalf("Get %d with Redis down: %q, %v", i, v, err)
		}
		if took := time.Since(start); took > 3*time.Second { // the timeout is 100ms; dialing alone may take 5s
			t.Errorf("Get %d with Redis down took %v; the timeout is 100ms", i, took)
		}
	}
	if la.count() != 11 {
		t.Errorf("%d loads, want 11: each miss loads locally", la.count())
	}
	got := counts(t, reader)
	if got["breaker_open"] == 0 || got["error"]+got["timeout"] == 0 {
		t.Errorf("requests %v, want failures, then calls the open breaker cut off", got)
	}
	if n := strings.Count(logs.String(), `"msg":"breaker opened"`); n != 1 {
		t.Errorf("%d breaker-opened log lines, want 1:\n%s", n, logs.String())
	}

	s.Restart()
	i := 0
	eventually(t, "the second level resuming", func() bool {
		i++
		key := "back" + strconv.Itoa(i)
		if _, err := a.c.Get(ctx, key, la.value("shared")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if client.Exists(ctx, "paved:cache:test:{"+key+"}").Val() == 1 {
				before := lb.count()
				v, err := b.c.Get(ctx, key, lb.value("b"))
				if v != "shared" || err != nil || lb.count() != before {
					t.Fatalf("B after the restart: %q, %v; want A's value from Redis", v, err)
				}
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
	eventually(t, "invalidation resuming", func() bool {
		if _, err := b.c.Get(ctx, "inv", lb.value("b")); err != nil {
			t.Fatal(err)
		}
		_ = a.l.Delete(ctx, "inv")
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			if _, ok := b.c.Peek("inv"); !ok {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
	if n := strings.Count(logs.String(), "invalidation subscriber lost Redis"); n != 1 {
		t.Errorf("%d subscriber-lost log lines, want 1", n)
	}
}
