package redisidempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/idempotency/redisidempotency"
	"github.com/paved-go/paved/internal/redistest"
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

// store returns a store on c, failing the test on an error. Its timeout
// is 10 s unless opts say otherwise: a busy machine must not fail a test
// that is not about timeouts.
func store(t testing.TB, c redis.UniversalClient, opts ...redisidempotency.Option) *redisidempotency.Store {
	t.Helper()
	opts = append([]redisidempotency.Option{redisidempotency.WithTimeout(10 * time.Second)}, opts...)
	s, err := redisidempotency.New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
