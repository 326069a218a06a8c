package rediscache_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/cache/rediscache"
	"github.com/paved-go/paved/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClient returns a client of s, closed when the test ends.
func newClient(t testing.TB, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// instance is one service instance: its own cache (L1) and Level.
type instance[K comparable, V any] struct {
	c *cache.Cache[K, V]
	l *rediscache.Level[K, V]
}

func newInstance[K comparable, V any](t testing.TB, client redis.UniversalClient, copts []cache.Option, lopts ...rediscache.Option) instance[K, V] {
	t.Helper()
	// A generous timeout: a slow answer on a busy machine must not
	// count as Redis failing, unless a test says so.
	l, err := rediscache.New[K, V]("test", client, append([]rediscache.Option{rediscache.WithTimeout(5 * time.Second)}, lopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New[K, V]("test", append(copts, cache.WithSecondLevel[K, V](l))...)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		l.Close()
	})
	return instance[K, V]{c, l}
}

// loads counts a loader's calls.
type loads struct {
	mu sync.Mutex
	n  int
}

func (l *loads) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// value returns a loader that counts its calls and returns v.
func (l *loads) value(v string) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
		return v, nil
	}
}

// eventually polls cond every few milliseconds for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects JSON log lines, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// counts returns paved.cache.second_level.requests by result.
func counts(t *testing.T, r *metric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.cache.second_level.requests" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				res, _ := dp.Attributes.Value("result")
				got[res.AsString()] += dp.Value
			}
		}
	}
	return got
}
