package cache_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// TestThousandMissesOneLoad: 1000 goroutines miss one key at once; one
// load runs, and after half of them give up (their contexts canceled
// while waiting, the one that started the load perhaps among them) the
// other half still get its value.
func TestThousandMissesOneLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		c := newCache[int](t)
		var loads atomic.Int32
		release := make(chan struct{})
		load := func(ctx context.Context, key string) (int, error) {
			loads.Add(1)
			<-release
			return 42, nil
		}
		type result struct {
			v   int
			err error
		}
		results := make([]result, n)
		cancels := make([]context.CancelFunc, n)
		var wg sync.WaitGroup
		for i := range n {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			wg.Go(func() {
				v, err := c.Get(ctx, "popular", load)
				results[i] = result{v, err}
			})
		}
		synctest.Wait() // every caller is waiting, the loader is blocked
		for i := 0; i < n; i += 2 {
			cancels[i]()
		}
		synctest.Wait() // the canceled callers have returned
		close(release)
		wg.Wait()
		for _, cancel := range cancels {
			cancel()
		}

		if got := loads.Load(); got != 1 {
			t.Fatalf("%d loads, want 1", got)
		}
		for i, r := range results {
			if i%2 == 0 {
				if !errors.Is(r.err, context.Canceled) || r.v != 0 {
					t.Fatalf("canceled caller %d got %d, %v; want 0, context.Canceled", i, r.v, r.err)
				}
			} else if r.err != nil || r.v != 42 {
				t.Fatalf("caller %d got %d, %v; want 42", i, r.v, r.err)
			}
		}
		wantStats(t, c.Stats(), cache.Stats{Misses: 1, Coalesced: n - 1, Loads: 1})
		if v, ok := c.Peek("popular"); !ok || v != 42 {
			t.Fatal("the shared load's value was not stored")
		}
	})
}

func TestLoaderPanicFailsEveryWaiter(t *testing.T) {
	tests := []struct {
		name    string
		loader  func()
		wantMsg string
	}{
		{"panic", func() { panic("bad index") }, "cache: loader panicked: bad index"},
		{"panic with error", func() { panic(errors.New("boom")) }, "cache: loader panicked: boom"},
		{"Goexit", func() { runtime.Goexit() }, "runtime.Goexit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs logBuffer
				c := newCache[int](t, cache.WithLogger(logs.logger()))
				release := make(chan struct{})
				load := func(context.Context, string) (int, error) {
					<-release
					tc.loader()
					return 1, nil
				}
				errs := make([]error, 10)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() { _, errs[i] = c.Get(context.Background(), "k", load) })
				}
				synctest.Wait()
				close(release)
				wg.Wait()
				for i, err := range errs {
					pe, ok := errors.AsType[*cache.PanicError](err)
					if !ok || !strings.Contains(err.Error(), tc.wantMsg) {
						t.Fatalf("waiter %d got %v, want a *PanicError saying %q", i, err, tc.wantMsg)
					}
					if len(pe.Stack) == 0 {
						t.Fatal("no stack in the PanicError")
					}
				}
				if !strings.Contains(logs.String(), `"msg":"cache: loader panicked"`) {
					t.Errorf("panic not logged: %s", logs.String())
				}
				// The key is not stuck: the next Get loads again.
				if v, err := c.Get(context.Background(), "k", func(context.Context, string) (int, error) { return 2, nil }); v != 2 || err != nil {
					t.Fatalf("Get after the panic = %d, %v", v, err)
				}
				if st := c.Stats(); st.LoadErrors != 1 || st.Loads != 2 {
					t.Fatalf("stats %+v, want 1 load error in 2 loads", st)
				}
			})
		})
	}
}

// TestLoadTimeout: a loader that never returns releases its waiters at
// the load timeout, and the key can be loaded again at once.
func TestLoadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[int](t, cache.WithLoadTimeout(5*time.Second))
		forever := make(chan struct{})
		defer close(forever) // only so the stuck loader ends with the test
		stuck := func(ctx context.Context, _ string) (int, error) {
			<-forever // ignores its context
			return 1, nil
		}
		start := time.Now()
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = c.Get(context.Background(), "k", stuck) })
		}
		wg.Wait()
		if waited := time.Since(start); waited != 5*time.Second {
			t.Fatalf("callers waited %v, want the 5s load timeout", waited)
		}
		for _, err := range errs {
			if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "cache: load did not finish within 5s" {
				t.Fatalf("got %v, want the load timeout", err)
			}
		}
		v, err := c.Get(context.Background(), "k", func(context.Context, string) (int, error) { return 2, nil })
		if v != 2 || err != nil {
			t.Fatalf("Get after the timeout = %d, %v; want a new load", v, err)
		}
		if st := c.Stats(); st.LoadErrors != 1 || st.Loads != 2 || st.Coalesced != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestLoaderSeesItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[int](t, cache.WithLoadTimeout(time.Second))
		_, err := c.Get(context.Background(), "k", func(ctx context.Context, _ string) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
}
