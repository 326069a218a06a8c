package redisidempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/redisidempotency"
	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/redistest"
)

// prompt bounds how long a call may take to fail once Redis is gone: far
// more than it takes, far less than a hang.
const prompt = 5 * time.Second

// call is one Store method on its own key space.
type call struct {
	name string
	do   func(ctx context.Context, s *redisidempotency.Store, key string) error
}

var calls = []call{
	{"Begin", func(ctx context.Context, s *redisidempotency.Store, key string) error {
		_, err := s.Begin(ctx, key, &idempotency.Record{Token: "t-" + key, Fingerprint: "fp"}, time.Minute)
		return err
	}},
	{"Complete", func(ctx context.Context, s *redisidempotency.Store, key string) error {
		return s.Complete(ctx, key, &idempotency.Record{Token: "t-" + key, Done: true, Response: idempotency.Response{Status: 201}}, time.Minute)
	}},
	{"Release", func(ctx context.Context, s *redisidempotency.Store, key string) error {
		return s.Release(ctx, key, "t-"+key)
	}},
	{"Get", func(ctx context.Context, s *redisidempotency.Store, key string) error {
		_, err := s.Get(ctx, key)
		return err
	}},
}

// wantUnavailable fails t unless err is the store's own error for a Redis
// that cannot answer: prefixed, not ErrNotHeld, answered with 503.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s succeeded with Redis gone", what)
	case errors.Is(err, idempotency.ErrNotHeld):
		t.Fatalf("%s: %v: ErrNotHeld says the key was lost, when Redis could not tell", what, err)
	case !strings.HasPrefix(err.Error(), "redisidempotency: "+strings.Fields(what)[0]+": "):
		t.Fatalf("%s: %q, want the package and method first", what, err)
	case httpx.StatusOf(err) != http.StatusServiceUnavailable:
		t.Fatalf("%s: %v maps to %d, want 503", what, err, httpx.StatusOf(err))
	}
}

// TestRedisStops: Redis is stopped while goroutines call the store; each
// call fails promptly with an error, none hangs or panics, and once Redis
// is back (empty, its scripts forgotten) calls succeed again.
func TestRedisStops(t *testing.T) {
	srv := redistest.Start(t)
	s := store(t, client(t, srv)) // a timeout of 10 s: promptness is the client's, not a timeout's
	ctx := context.Background()

	var (
		t0       = time.Now()
		downAt   atomic.Int64 // time since t0 when Redis had exited; 0 before
		stopping atomic.Bool
		ok       atomic.Int64
		wg       sync.WaitGroup
		failures = make(chan string, 8)
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				c := calls[i%len(calls)]
				key := fmt.Sprintf("g%d-%d", g, i/len(calls))
				start := time.Since(t0)
				err := c.do(ctx, s, key)
				took := time.Since(t0) - start
				if took > prompt {
					failures <- fmt.Sprintf("%s took %v", c.name, took)
					return
				}
				if err == nil || errors.Is(err, idempotency.ErrNotHeld) {
					if down := downAt.Load(); down != 0 && int64(start) > down {
						failures <- fmt.Sprintf("%s succeeded after Redis exited", c.name)
						return
					}
					ok.Add(1)
					continue
				}
				if !stopping.Load() {
					failures <- fmt.Sprintf("%s failed before Redis stopped: %v", c.name, err)
					return
				}
				if !strings.HasPrefix(err.Error(), "redisidempotency: ") {
					failures <- fmt.Sprintf("%s: %q is not the store's error", c.name, err)
				}
				return
			}
		})
	}
	// Stop Redis once the calls are under way.
	for deadline := time.Now().Add(10 * time.Second); ok.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	stopping.Store(true)
	srv.Stop()
	downAt.Store(int64(time.Since(t0)))
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		return
	}
	if n := ok.Load(); n < 100 {
		t.Fatalf("only %d calls succeeded before Redis stopped", n)
	}
	// Every method, on keys it has and has not seen, fails alike.
	for round := range 3 {
		for _, c := range calls {
			start := time.Now()
			err := c.do(ctx, s, fmt.Sprint("after-", round))
			if took := time.Since(start); took > prompt {
				t.Fatalf("%s with Redis stopped took %v", c.name, took)
			}
			wantUnavailable(t, c.name+" with Redis stopped", err)
		}
	}

	srv.Restart()
	// The client neither retries nor checks its pooled connections, all
	// of which the restart closed: a call may fail on one, which go-redis
	// then drops. Bounded polling until Begin succeeds.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := calls[0].do(ctx, s, "back")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Begin after Redis restarted: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := calls[1].do(ctx, s, "back"); err != nil {
		t.Fatalf("Complete after Redis restarted: %v", err)
	}
	if rec, err := s.Get(ctx, "back"); err != nil || rec == nil || !rec.Done {
		t.Fatalf("Get after Redis restarted: %+v, %v", rec, err)
	}
}

// TestRedisHangs: a Redis that accepts connections and never answers
// costs each call the timeout, then an error that says so.
func TestRedisHangs(t *testing.T) {
	h := redistest.StartHang(t)
	c := redis.NewClient(&redis.Options{Addr: h.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	const timeout = 100 * time.Millisecond
	s := store(t, c, redisidempotency.WithTimeout(timeout))
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.do(context.Background(), s, "k")
			took := time.Since(start)
			if took < timeout || took > prompt {
				t.Fatalf("took %v, want the timeout, %v", took, timeout)
			}
			wantUnavailable(t, tc.name, err)
			if !strings.Contains(err.Error(), "no answer from Redis within 100ms") {
				t.Fatalf("%q does not say it timed out", err)
			}
		})
	}
}

// TestCallerGivesUp: when the caller's context ends during a call, the
// error wraps the context's, so that the middleware answers as for any
// request that ran out of time (504) or that the client gave up (499),
// not 503. A deadline cuts the call short; a cancellation does not
// (go-redis watches deadlines only), so the call ends at the store's
// timeout.
func TestCallerGivesUp(t *testing.T) {
	h := redistest.StartHang(t)
	c := redis.NewClient(&redis.Options{Addr: h.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	const timeout = 300 * time.Millisecond
	s := store(t, c, redisidempotency.WithTimeout(timeout))
	patient := store(t, c) // 10 s
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout/6)
			defer cancel()
			start := time.Now()
			err := tc.do(ctx, patient, "k")
			if took := time.Since(start); took >= prompt {
				t.Fatalf("deadline: took %v, want the caller's deadline, %v", took, timeout/6)
			}
			if !errors.Is(err, context.DeadlineExceeded) || httpx.StatusOf(err) != http.StatusGatewayTimeout {
				t.Fatalf("deadline: %v (status %d), want context.DeadlineExceeded, 504", err, httpx.StatusOf(err))
			}
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(timeout/6, cancel)
			err = tc.do(ctx, s, "k")
			if !errors.Is(err, context.Canceled) || httpx.StatusOf(err) != httpx.StatusClientClosedRequest {
				t.Fatalf("cancel: %v (status %d), want context.Canceled, 499", err, httpx.StatusOf(err))
			}
			if !strings.HasPrefix(err.Error(), "redisidempotency: "+tc.name+": ") {
				t.Fatalf("%q, want the package and method first", err)
			}
		})
	}
}
