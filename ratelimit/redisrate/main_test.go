package redisrate_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/redistest"
	"github.com/paved-go/paved/ratelimit/redisrate"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // go-redis logs every failed dial of the fault tests
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// client returns a client of s that honours context deadlines, closed at
// the test's end. It neither retries commands nor dials more than once,
// so that a call to a stopped server fails at once.
func client(t testing.TB, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

// limiter returns a limiter on c, failing the test on an error. Its
// timeout is 5 s unless opts say otherwise: a test that checks shared
// decisions must not see the fallback's because a busy machine was slow.
func limiter(t testing.TB, name string, c redis.UniversalClient, limit rate.Limit, burst int, opts ...redisrate.Option) *redisrate.Limiter {
	t.Helper()
	opts = append([]redisrate.Option{redisrate.WithTimeout(5 * time.Second)}, opts...)
	l, err := redisrate.New(name, c, limit, burst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// keys returns the keys of the Redis of c matching pattern, by SCAN.
func keys(t testing.TB, c *redis.Client, pattern string) []string {
	t.Helper()
	var out []string
	iter := c.Scan(context.Background(), 0, pattern, 100).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
