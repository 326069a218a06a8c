package cache_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/cache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCache returns a cache closed when the test ends, so no load outlives
// it (inside a synctest bubble, Close must run before the bubble ends).
func newCache[V any](t *testing.T, opts ...cache.Option) *cache.Cache[string, V] {
	t.Helper()
	return newNamedCache[V](t, "test", opts...)
}

func newNamedCache[V any](t *testing.T, name string, opts ...cache.Option) *cache.Cache[string, V] {
	t.Helper()
	c, err := cache.New[string, V](name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// counter is a loader that counts its calls and returns the key's length
// plus 100 times the call number, so each load's value is distinct.
type counter struct {
	mu    sync.Mutex
	calls int
}

func (l *counter) load(_ context.Context, key string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	return len(key) + 100*l.calls, nil
}

func (l *counter) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// logBuffer is a slog.Logger writing JSON lines to a buffer, safe for
// concurrent use.
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
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func wantStats(t *testing.T, got, want cache.Stats) {
	t.Helper()
	if got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}
