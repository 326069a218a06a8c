package redisbreaker_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/redisbreaker"
	"github.com/paved-go/paved/internal/redistest"
)

// countingStore counts the calls a breaker makes to its store.
type countingStore struct {
	breaker.SharedStore
	n atomic.Int64
}

func (c *countingStore) Lock(name string) error { c.n.Add(1); return c.SharedStore.Lock(name) }
func (c *countingStore) Unlock(name string) error {
	c.n.Add(1)
	return c.SharedStore.Unlock(name)
}
func (c *countingStore) GetData(name string) ([]byte, error) {
	c.n.Add(1)
	return c.SharedStore.GetData(name)
}
func (c *countingStore) SetData(name string, data []byte) error {
	c.n.Add(1)
	return c.SharedStore.SetData(name, data)
}

// ran reports whether fn was called by do.
func ran(do func(fn func(context.Context) error) error) (bool, error) {
	called := false
	err := do(func(context.Context) error { called = true; return nil })
	return called, err
}

func TestTripOnOneInstanceRejectsOnAnother(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	storeA, _ := newStore(t, s)
	storeB, _ := newStore(t, s)
	opts := []breaker.Option{breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(400 * time.Millisecond), breaker.WithHalfOpenProbes(2)}
	a := newBreaker(t, "inventory", storeA, opts...)
	b := newBreaker(t, "inventory", storeB, opts...)

	for range 3 {
		if err := a.Do(ctx, fail); !errors.Is(err, errBoom) {
			t.Fatalf("a: err = %v, want errBoom", err)
		}
	}
	// b has seen no failure, and rejects.
	called, err := ran(func(fn func(context.Context) error) error { return b.Do(ctx, fn) })
	if called || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("b: called %v, err %v; want ErrOpen without a call", called, err)
	}
	var oe *breaker.OpenError
	if !errors.As(err, &oe) || oe.RetryAfter <= 0 || oe.RetryAfter > 400*time.Millisecond {
		t.Fatalf("b: %#v, want a RetryAfter in (0, 400ms]", oe)
	}

	// Half-open: b's probes close the breaker; a learns it on its next call.
	time.Sleep(oe.RetryAfter)
	for range 2 {
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatalf("b: probe: %v", err)
		}
	}
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("b: state %v after 2 good probes, want closed", st)
	}
	if err := a.Do(ctx, succeed); err != nil {
		t.Fatalf("a after b closed it: %v", err)
	}
	if st := a.State(); st != breaker.StateClosed {
		t.Fatalf("a: state %v, want closed", st)
	}
}

func TestHalfOpenProbeFailureReopensEverywhere(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	storeA, _ := newStore(t, s)
	storeB, _ := newStore(t, s)
	opts := []breaker.Option{breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(200 * time.Millisecond), breaker.WithHalfOpenProbes(3)}
	a := newBreaker(t, "inventory", storeA, opts...)
	b := newBreaker(t, "inventory", storeB, opts...)
	_ = a.Do(ctx, fail)
	time.Sleep(200 * time.Millisecond)
	if err := a.Do(ctx, succeed); err != nil { // probe 1 of 3
		t.Fatal(err)
	}
	if err := b.Do(ctx, fail); !errors.Is(err, errBoom) { // probe 2 fails
		t.Fatalf("b: err = %v", err)
	}
	if called, err := ran(func(fn func(context.Context) error) error { return a.Do(ctx, fn) }); called || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a: called %v, err %v; want ErrOpen", called, err)
	}
}

func TestRedisDownDecidesLocallyThenResumes(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	const retry = 100 * time.Millisecond
	storeA, _ := newStore(t, s)
	storeB, _ := newStore(t, s)
	counted := &countingStore{SharedStore: storeA}
	opts := []breaker.Option{breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(time.Minute), breaker.WithSharedStateRetry(retry)}
	a := newBreaker(t, "inventory", counted, opts...)
	b := newBreaker(t, "inventory", storeB, opts...)
	if err := a.Do(ctx, succeed); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	start, before := time.Now(), counted.n.Load()
	const calls = 50
	for i := range calls {
		if err := a.Do(ctx, succeed); err != nil {
			t.Fatalf("call %d with Redis down: %v", i, err)
		}
	}
	// One store call per retry period at most (plus the first): the
	// others are decided locally without touching Redis.
	elapsed := time.Since(start)
	if n, limit := counted.n.Load()-before, int64(1+elapsed/retry); n > limit {
		t.Errorf("%d store calls for %d calls in %v, want at most %d", n, calls, elapsed, limit)
	}
	// The local state still protects: 3 failures open a.
	for range 3 {
		if err := a.Do(ctx, fail); !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want errBoom", err)
		}
	}
	if err := a.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err = %v, want ErrOpen from the local state", err)
	}

	// Redis back (empty): sharing resumes once b's retry time has passed.
	s.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for range 3 {
			_ = b.Do(ctx, fail)
		}
		c := newBreaker(t, "inventory", storeB, opts...) // a fresh instance
		if called, err := ran(func(fn func(context.Context) error) error { return c.Do(ctx, fn) }); !called && errors.Is(err, breaker.ErrOpen) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sharing did not resume within 10s of the restart")
		}
		time.Sleep(retry)
	}
}

// TestContentionLosesNoOutcome runs many goroutines on two instances: the
// lock makes every outcome count once in the shared state, with the
// Store's combined scripts and with the four plain SharedStore methods.
func TestContentionLosesNoOutcome(t *testing.T) {
	tests := []struct {
		name string
		wrap func(*redisbreaker.Store) breaker.SharedStore
	}{
		{"scripts", func(s *redisbreaker.Store) breaker.SharedStore { return s }},
		{"plain methods", func(s *redisbreaker.Store) breaker.SharedStore { return struct{ breaker.SharedStore }{s} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t)
			ctx := context.Background()
			storeA, c := newStore(t, s)
			storeB, _ := newStore(t, s)
			opts := []breaker.Option{breaker.WithConsecutiveFailures(1 << 20)}
			instances := []*breaker.Breaker{newBreaker(t, "inventory", tc.wrap(storeA), opts...), newBreaker(t, "inventory", tc.wrap(storeB), opts...)}
			const goroutines, calls = 8, 25
			var wg sync.WaitGroup
			var errs atomic.Int64
			for _, br := range instances {
				for range goroutines {
					wg.Go(func() {
						for i := range calls {
							fn := succeed
							if i%5 == 0 {
								fn = fail
							}
							if err := br.Do(ctx, fn); err != nil && !errors.Is(err, errBoom) {
								errs.Add(1)
							}
						}
					})
				}
			}
			wg.Wait()
			if n := errs.Load(); n != 0 {
				t.Fatalf("%d calls returned an error not their own", n)
			}
			data, err := c.Get(ctx, storeA.StateKey("inventory")).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			var st gobreaker.SharedState
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			const total = 2 * goroutines * calls
			if got := st.Counts; got.Requests != total || got.TotalFailures != total/5 || got.TotalSuccesses != total*4/5 {
				t.Fatalf("shared counts %+v, want %d requests, %d failures", got, total, total/5)
			}
		})
	}
}

func TestTimeWindowRateIsCountedAcrossInstances(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	storeA, _ := newStore(t, s)
	storeB, _ := newStore(t, s)
	opts := []breaker.Option{breaker.WithTimeWindow(time.Minute, 6), breaker.WithFailureRate(0.5, 4)}
	a := newBreaker(t, "inventory", storeA, opts...)
	b := newBreaker(t, "inventory", storeB, opts...)
	// 2 successes on a, 2 failures on b: 50% of 4 calls, counted together.
	for range 2 {
		if err := a.Do(ctx, succeed); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.Do(ctx, fail)
	if st := b.State(); st != breaker.StateClosed {
		t.Fatalf("b: state %v after 1 failure of 3 calls, want closed", st)
	}
	_ = b.Do(ctx, fail)
	if err := a.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("a: err = %v, want ErrOpen", err)
	}
}

func TestMiddlewareSharesAcrossRegistries(t *testing.T) {
	s := redistest.Start(t)
	storeA, _ := newStore(t, s)
	storeB, _ := newStore(t, s)
	failing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	serve := func(store *redisbreaker.Store) http.Handler {
		r, err := breaker.NewRegistry(quiet, breaker.WithSharedState(store), breaker.WithConsecutiveFailures(2), breaker.WithOpenDuration(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /items/{id}", r.Middleware(failing))
		return mux
	}
	a, b := serve(storeA), serve(storeB)
	for range 2 {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", "/items/1", nil))
		if rec.Code != http.StatusBadGateway {
			t.Fatalf("a: status %d, want 502 from the handler", rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest("GET", "/items/2", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("b: status %d, headers %v; want 503 problem+json with Retry-After", rec.Code, rec.Header())
	}
}

func TestRedisPausedCostsAtMostTheTimeout(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	store, c := newStore(t, s, redisbreaker.WithTimeout(50*time.Millisecond))
	b := newBreaker(t, "inventory", store, breaker.WithConsecutiveFailures(3))
	if err := b.Do(ctx, succeed); err != nil {
		t.Fatal(err)
	}
	// Redis stops answering (every client) for 5s.
	if err := c.Do(ctx, "CLIENT", "PAUSE", "5000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 20 {
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatalf("call %d with Redis paused: %v", i, err)
		}
	}
	// One call waits for the 50ms timeout, the others skip Redis; 5s
	// would mean a call waited for Redis.
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("20 calls took %v with Redis paused, want about one timeout", took)
	}
}
