package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// seeded returns a deterministic random source safe for concurrent use.
func seeded(seed uint64) func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

func TestTTLExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[int](t, cache.WithTTL(10*time.Second), cache.WithJitter(0))
		var l counter
		ctx := context.Background()
		c.Get(ctx, "k", l.load)
		time.Sleep(10*time.Second - 1)
		if v, _ := c.Get(ctx, "k", l.load); v != 101 || l.n() != 1 {
			t.Fatalf("just before the TTL: %d after %d loads; want the first value", v, l.n())
		}
		time.Sleep(time.Nanosecond)
		if v, _ := c.Get(ctx, "k", l.load); v != 201 || l.n() != 2 {
			t.Fatalf("at the TTL: %d after %d loads; want a new load", v, l.n())
		}
	})
}

func TestJitterBounds(t *testing.T) {
	// Jitter 0.2 of a 100s TTL: an entry lives 100s*(1-0.2u) for the
	// random draw u in [0, 1): between 80s and 100s, never longer.
	tests := []struct {
		name string
		u    float64
		life time.Duration
	}{
		{"no shortening", 0, 100 * time.Second},
		{"half", 0.5, 90 * time.Second},
		{"most", 0.75, 85 * time.Second},
		{"most of it", 0.9, 82 * time.Second},
		{"all but a hair", 1 - 1.0/(1<<20), 80*time.Second + 19074*time.Nanosecond}, // 100s*(0.8+0.2/2^20), rounded up
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache[int](t, cache.WithTTL(100*time.Second), cache.WithJitter(0.2),
					cache.WithRandom(func() float64 { return tc.u }))
				c.Set("k", 1)
				time.Sleep(tc.life - 1)
				if _, ok := c.Peek("k"); !ok {
					t.Fatalf("expired before %v", tc.life)
				}
				time.Sleep(time.Nanosecond)
				if _, ok := c.Peek("k"); ok {
					t.Fatalf("still fresh at %v", tc.life)
				}
			})
		})
	}
	t.Run("spread", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newCache[int](t, cache.WithTTL(100*time.Second), cache.WithJitter(0.2), cache.WithRandom(seeded(1)))
			for i := range 1000 {
				c.Set(strconv.Itoa(i), i)
			}
			alive := func() int {
				n := 0
				for i := range 1000 {
					if _, ok := c.Peek(strconv.Itoa(i)); ok {
						n++
					}
				}
				return n
			}
			time.Sleep(80*time.Second - 1)
			if n := alive(); n != 1000 {
				t.Fatalf("%d of 1000 alive before 80s", n)
			}
			time.Sleep(10 * time.Second)
			if n := alive(); n < 400 || n > 600 {
				t.Fatalf("%d of 1000 alive at 90s, want about half", n)
			}
			time.Sleep(10 * time.Second)
			if n := alive(); n != 0 {
				t.Fatalf("%d of 1000 alive at 100s", n)
			}
		})
	})
}

func TestSetTTLFromTheLoader(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration
		wantLife time.Duration // 0: not stored
	}{
		{"shorter", 2 * time.Second, 2 * time.Second},
		{"longer", time.Hour, time.Hour},
		{"zero: not stored", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache[string](t, cache.WithTTL(time.Minute), cache.WithJitter(0))
				v, err := c.Get(context.Background(), "k", func(ctx context.Context, _ string) (string, error) {
					cache.SetTTL(ctx, tc.ttl)
					return "v", nil
				})
				if v != "v" || err != nil {
					t.Fatalf("Get = %q, %v", v, err)
				}
				if tc.wantLife == 0 {
					if c.Len() != 0 {
						t.Fatal("stored despite SetTTL(0)")
					}
					return
				}
				time.Sleep(tc.wantLife - 1)
				if _, ok := c.Peek("k"); !ok {
					t.Fatal("expired early")
				}
				time.Sleep(time.Nanosecond)
				if _, ok := c.Peek("k"); ok {
					t.Fatal("outlived SetTTL")
				}
			})
		})
	}
	cache.SetTTL(context.Background(), time.Second) // outside a load: no effect, no panic
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[string](t, cache.WithTTL(10*time.Second), cache.WithJitter(0), cache.WithStaleWhileRevalidate(5*time.Second))
		ctx := context.Background()
		var loads atomic.Int32
		release := make(chan struct{}, 1)
		load := func(ctx context.Context, _ string) (string, error) {
			n := loads.Add(1)
			if n > 1 {
				<-release // the refresh waits until the test lets it finish
			}
			return "v" + strconv.Itoa(int(n)), nil
		}
		c.Get(ctx, "k", load)
		time.Sleep(10 * time.Second) // expired, within the stale window

		for i := range 20 { // all served the stale value at once; one refresh
			v, err := c.Get(ctx, "k", load)
			if v != "v1" || err != nil {
				t.Fatalf("stale Get #%d = %q, %v", i, v, err)
			}
		}
		synctest.Wait()
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads, want 1 + 1 refresh", n)
		}
		release <- struct{}{}
		synctest.Wait()
		if v, _ := c.Get(ctx, "k", load); v != "v2" {
			t.Fatalf("after the refresh Get = %q, want v2", v)
		}
		wantStats(t, c.Stats(), cache.Stats{Misses: 1, StaleServed: 20, Hits: 1, Loads: 2})

		// Past the stale window the caller waits for the load.
		time.Sleep(15 * time.Second)
		release <- struct{}{}
		if v, _ := c.Get(ctx, "k", load); v != "v3" {
			t.Fatalf("past the stale window Get = %q, want v3 loaded synchronously", v)
		}
	})
}

func TestStaleWhileRevalidateRetriesAFailedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[string](t, cache.WithTTL(time.Second), cache.WithJitter(0), cache.WithStaleWhileRevalidate(time.Minute))
		ctx := context.Background()
		c.Set("k", "old")
		time.Sleep(time.Second)
		var loads atomic.Int32
		failing := func(context.Context, string) (string, error) { loads.Add(1); return "", errors.New("down") }
		for range 3 {
			if v, _ := c.Get(ctx, "k", failing); v != "old" {
				t.Fatalf("got %q, want the stale value", v)
			}
			synctest.Wait() // the refresh failed
		}
		if n := loads.Load(); n != 3 {
			t.Fatalf("%d refreshes, want one per Get after each failure", n)
		}
	})
}

func TestStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[string](t, cache.WithTTL(10*time.Second), cache.WithJitter(0), cache.WithStaleIfError(30*time.Second),
			cache.WithNegativeCache(time.Second, nil))
		ctx := context.Background()
		c.Set("k", "good")
		down := errors.New("backend down")
		failing := func(context.Context, string) (string, error) { return "", down }

		time.Sleep(10 * time.Second)
		v, err := c.Get(ctx, "k", failing)
		if v != "good" || err != nil {
			t.Fatalf("within stale-if-error: %q, %v; want the stale value", v, err)
		}
		gone := func(context.Context, string) (string, error) { return "", cache.ErrNotFound }
		if _, err := c.Get(ctx, "k", gone); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("a negative result must not be hidden by a stale value: %v", err)
		}
		c.Set("k", "good")
		time.Sleep(40*time.Second + 1)
		if _, err := c.Get(ctx, "k", failing); !errors.Is(err, down) {
			t.Fatalf("past stale-if-error: %v, want the load error", err)
		}
		if st := c.Stats(); st.StaleServed != 1 || st.LoadErrors != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestNegativeCache(t *testing.T) {
	errGone := errors.New("gone for good")
	tests := []struct {
		name    string
		match   func(error) bool
		loadErr error
		cached  bool
	}{
		{"ErrNotFound by default", nil, fmt.Errorf("user 7: %w", cache.ErrNotFound), true},
		{"other errors are not", nil, errors.New("timeout"), false},
		{"own predicate", func(err error) bool { return errors.Is(err, errGone) }, errGone, true},
		{"own predicate replaces ErrNotFound", func(err error) bool { return errors.Is(err, errGone) }, cache.ErrNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache[int](t, cache.WithNegativeCache(5*time.Second, tc.match))
				calls := 0
				load := func(context.Context, string) (int, error) { calls++; return 0, tc.loadErr }
				for range 3 {
					if _, err := c.Get(context.Background(), "k", load); err != tc.loadErr {
						t.Fatalf("got %v, want the loader's error %v", err, tc.loadErr)
					}
				}
				if want := map[bool]int{true: 1, false: 3}[tc.cached]; calls != want {
					t.Fatalf("%d loads, want %d", calls, want)
				}
				if !tc.cached {
					return
				}
				if _, ok := c.Peek("k"); ok {
					t.Fatal("Peek reports a negative entry as a value")
				}
				if st := c.Stats(); st.NegativeHits != 2 || st.LoadErrors != 0 {
					t.Fatalf("stats %+v, want 2 negative hits and no load errors", st)
				}
				time.Sleep(5 * time.Second)
				c.Get(context.Background(), "k", load)
				if calls != 2 {
					t.Fatalf("the negative entry outlived its TTL (%d loads)", calls)
				}
			})
		})
	}
}

// TestEarlyRefresh checks XFetch statistically with a fixed seed: for
// entries whose load took 1s (beta 1), a Get at remaining time r before
// expiry starts a refresh with probability exp(-r/1s).
func TestEarlyRefresh(t *testing.T) {
	const n = 1000
	var prev float64
	for _, remaining := range []time.Duration{20 * time.Second, 3 * time.Second, time.Second, 500 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(remaining.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache[int](t, cache.WithTTL(100*time.Second), cache.WithJitter(0),
					cache.WithEarlyRefresh(1), cache.WithRandom(seeded(1)))
				slow := func(ctx context.Context, _ string) (int, error) {
					select {
					case <-time.After(time.Second):
						return 1, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { c.Get(context.Background(), strconv.Itoa(i), slow) })
				}
				wg.Wait() // all loaded in 1s, fresh for 100s more
				time.Sleep(100*time.Second - remaining)
				for i := range n {
					if v, err := c.Get(context.Background(), strconv.Itoa(i), slow); v != 1 || err != nil {
						t.Fatalf("Get = %d, %v; early refresh must not make callers wait", v, err)
					}
				}
				refreshed := float64(c.Stats().Loads - n)
				p := math.Exp(-remaining.Seconds())
				sd := math.Sqrt(n * p * (1 - p))
				if math.Abs(refreshed-n*p) > 4*sd+1 {
					t.Fatalf("%v before expiry: %.0f of %d refreshed, want %.1f ± %.1f", remaining, refreshed, n, n*p, 4*sd+1)
				}
				t.Logf("%v before expiry: %.0f of %d refreshed early (expected %.1f)", remaining, refreshed, n, n*p)
				if refreshed < prev {
					t.Fatalf("%.0f refreshed, fewer than %.0f further from expiry", refreshed, prev)
				}
				prev = refreshed
			})
		})
	}
}
