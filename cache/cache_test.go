package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/cache"
)

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []cache.Option
		want string // in the error
	}{
		{"zero TTL", []cache.Option{cache.WithTTL(0)}, "WithTTL"},
		{"jitter 1", []cache.Option{cache.WithJitter(1)}, "WithJitter"},
		{"negative jitter", []cache.Option{cache.WithJitter(-0.1)}, "WithJitter"},
		{"no entries", []cache.Option{cache.WithMaxKeys(0)}, "WithMaxKeys"},
		{"shards not a power of two", []cache.Option{cache.WithShards(3)}, "WithShards"},
		{"more shards than entries", []cache.Option{cache.WithMaxKeys(4), cache.WithShards(8)}, "WithShards"},
		{"negative stale window", []cache.Option{cache.WithStaleWhileRevalidate(-time.Second)}, "WithStaleWhileRevalidate"},
		{"negative stale-if-error", []cache.Option{cache.WithStaleIfError(-1)}, "WithStaleIfError"},
		{"negative beta", []cache.Option{cache.WithEarlyRefresh(-1)}, "WithEarlyRefresh"},
		{"zero negative TTL", []cache.Option{cache.WithNegativeCache(0, nil)}, "WithNegativeCache"},
		{"negative load timeout", []cache.Option{cache.WithLoadTimeout(-time.Second)}, "WithLoadTimeout"},
		{"nil random", []cache.Option{cache.WithRandom(nil)}, "WithRandom"},
		{"nil option", []cache.Option{nil}, "option 0 is nil"},
		{"evict callback of other types", []cache.Option{cache.WithOnEvict(func(int, string, cache.EvictReason) {})}, "func(string, int, cache.EvictReason)"},
		{"cost of other types", []cache.Option{cache.WithMaxCost(10, func(int, int) int64 { return 1 })}, "WithMaxCost"},
		{"cost below shards", []cache.Option{cache.WithMaxKeys(100), cache.WithShards(4), cache.WithMaxCost(2, func(string, int) int64 { return 1 })}, "WithMaxCost"},
		{"response cache option", []cache.Option{cache.WithMaxBodyBytes(10)}, "ResponseCache only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cache.New[string, int]("test", tc.opts...)
			if err == nil {
				c.Close()
				t.Fatal("New accepted the options")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cache: ") {
				t.Fatalf("error %q does not start with cache: and mention %q", err, tc.want)
			}
		})
	}
}

func TestNewRejectsEmptyName(t *testing.T) {
	if c, err := cache.New[string, int](""); err == nil {
		c.Close()
		t.Fatal("New accepted an empty name")
	} else if err.Error() != "cache: empty name" {
		t.Fatalf("New: %v", err)
	}
	if rc, err := cache.NewResponseCache(""); err == nil {
		rc.Close()
		t.Fatal("NewResponseCache accepted an empty name")
	} else if err.Error() != "cache: empty name" {
		t.Fatalf("NewResponseCache: %v", err)
	}
}

func TestGetLoadsOnceThenHits(t *testing.T) {
	c := newCache[int](t)
	var l counter
	ctx := context.Background()
	for i := range 3 {
		v, err := c.Get(ctx, "abc", l.load)
		if err != nil || v != 103 {
			t.Fatalf("Get #%d = %d, %v; want 103, nil", i, v, err)
		}
	}
	if l.n() != 1 {
		t.Fatalf("%d loads, want 1", l.n())
	}
	if v, ok := c.Peek("abc"); !ok || v != 103 {
		t.Fatalf("Peek = %d, %v", v, ok)
	}
	if _, ok := c.Peek("nope"); ok {
		t.Fatal("Peek found a key never stored")
	}
	wantStats(t, c.Stats(), cache.Stats{Hits: 2, Misses: 1, Loads: 1})
}

func TestLoadErrorIsReturnedAndNotStored(t *testing.T) {
	c := newCache[int](t)
	boom := errors.New("backend down")
	calls := 0
	load := func(context.Context, string) (int, error) { calls++; return 7, boom }
	for range 2 {
		v, err := c.Get(context.Background(), "k", load)
		if !errors.Is(err, boom) || v != 0 {
			t.Fatalf("Get = %d, %v; want 0, %v", v, err, boom)
		}
	}
	if calls != 2 || c.Len() != 0 {
		t.Fatalf("calls %d, Len %d; want 2 loads, nothing stored", calls, c.Len())
	}
	wantStats(t, c.Stats(), cache.Stats{Misses: 2, Loads: 2, LoadErrors: 2})
}

func TestSetDeletePurge(t *testing.T) {
	c := newCache[string](t)
	c.Set("a", "1")
	c.Set("b", "2")
	c.Set("a", "3")
	if v, ok := c.Peek("a"); !ok || v != "3" {
		t.Fatalf("Peek(a) = %q, %v after replacing", v, ok)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	c.Delete("a")
	if _, ok := c.Peek("a"); ok || c.Len() != 1 {
		t.Fatalf("after Delete: Len %d", c.Len())
	}
	c.Purge()
	if c.Len() != 0 {
		t.Fatalf("after Purge: Len %d", c.Len())
	}
}

func TestEvictionHoldsTheBound(t *testing.T) {
	tests := []struct {
		name       string
		maxEntries int
		shards     int
	}{
		{"one shard", 100, 1},
		{"sharded", 10_000, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type evicted struct {
				key    string
				reason cache.EvictReason
			}
			var (
				mu  sync.Mutex
				got []evicted
				c   *cache.Cache[string, int]
			)
			c = newCache[int](t, cache.WithMaxKeys(tc.maxEntries), cache.WithShards(tc.shards),
				cache.WithOnEvict(func(k string, v int, r cache.EvictReason) {
					_ = c.Len() // would deadlock if a lock were held
					mu.Lock()
					got = append(got, evicted{k, r})
					mu.Unlock()
				}))
			var wg sync.WaitGroup
			for w := range 4 { // under pressure from several goroutines
				wg.Go(func() {
					for i := range tc.maxEntries * 2 {
						k := strconv.Itoa(w) + "-" + strconv.Itoa(i)
						if _, err := c.Get(context.Background(), k, func(context.Context, string) (int, error) { return i, nil }); err != nil {
							t.Error(err)
							return
						}
						if n := c.Len(); n > tc.maxEntries {
							t.Errorf("Len %d exceeds the bound %d", n, tc.maxEntries)
							return
						}
					}
				})
			}
			wg.Wait()
			st := c.Stats()
			inserted := 8 * tc.maxEntries
			if uint64(c.Len())+st.Evictions != uint64(inserted) || len(got) != int(st.Evictions) {
				t.Fatalf("Len %d + evictions %d != %d inserted; %d callbacks", c.Len(), st.Evictions, inserted, len(got))
			}
			for _, e := range got {
				if e.reason != cache.EvictedCapacity {
					t.Fatalf("evicted %s for %v, want capacity", e.key, e.reason)
				}
			}
		})
	}
}

func TestEvictionIsLeastRecentlyUsed(t *testing.T) {
	c := newCache[int](t, cache.WithMaxKeys(3))
	for i, k := range []string{"a", "b", "c"} {
		c.Set(k, i)
	}
	var l counter
	c.Get(context.Background(), "a", l.load) // a is now the most recently used
	c.Set("d", 3)
	if _, ok := c.Peek("b"); ok {
		t.Fatal("b, the least recently used, was kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Peek(k); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
}

// TestEvictionKeepsKeysInUse: in a large cache a hit moves its entry to
// the front only once more than a quarter of the capacity was stored
// after it, but then it does, so a key read now and then outlives keys
// stored after it and never read.
func TestEvictionKeepsKeysInUse(t *testing.T) {
	c := newCache[int](t, cache.WithMaxKeys(100), cache.WithShards(1))
	for i := range 100 {
		c.Set(strconv.Itoa(i), i)
	}
	var l counter
	if v, _ := c.Get(context.Background(), "0", l.load); v != 0 || l.n() != 0 {
		t.Fatalf("Get(0) = %d after %d loads", v, l.n())
	}
	for i := 100; i < 199; i++ { // evicts the 99 least recently used
		c.Set(strconv.Itoa(i), i)
	}
	if _, ok := c.Peek("0"); !ok {
		t.Error("0, read after 99 other keys were stored, was evicted")
	}
	for _, k := range []string{"1", "50", "99"} {
		if _, ok := c.Peek(k); ok {
			t.Errorf("%s, never read, outlived 0", k)
		}
	}
}

func TestEvictReasons(t *testing.T) {
	var got []string
	c := newCache[int](t, cache.WithMaxKeys(2), cache.WithOnEvict(func(k string, v int, r cache.EvictReason) {
		got = append(got, fmt.Sprintf("%s=%d %v", k, v, r))
	}))
	c.Set("a", 1)
	c.Set("a", 2)
	c.Set("b", 3)
	c.Set("c", 4)
	c.Delete("b")
	c.Purge()
	want := []string{"a=1 replaced", "a=2 capacity", "b=3 deleted", "c=4 deleted"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("callbacks %q, want %q", got, want)
	}
}

func TestMaxCost(t *testing.T) {
	c := newCache[[]byte](t, cache.WithShards(1), cache.WithMaxCost(100, func(k string, v []byte) int64 { return int64(len(v)) }))
	for i := range 50 {
		c.Set(strconv.Itoa(i), make([]byte, 10))
	}
	if c.Len() != 10 {
		t.Fatalf("Len %d, want 10 entries of cost 10 within 100", c.Len())
	}
	v, err := c.Get(context.Background(), "big", func(context.Context, string) ([]byte, error) { return make([]byte, 101), nil })
	if err != nil || len(v) != 101 {
		t.Fatalf("Get of an oversized value = %d bytes, %v", len(v), err)
	}
	if _, ok := c.Peek("big"); ok || c.Len() != 10 {
		t.Fatalf("an oversized value was stored (Len %d)", c.Len())
	}
	if st := c.Stats(); st.Evictions != 40 {
		t.Fatalf("evictions %d, want 40", st.Evictions)
	}
}

func TestSetAndDeleteSupersedeARunningLoad(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(c *cache.Cache[string, string])
		want      string // what a Get right after the change returns, and what stays stored
	}{
		{"Set", func(c *cache.Cache[string, string]) { c.Set("k", "set") }, "set"},
		{"Delete", func(c *cache.Cache[string, string]) { c.Delete("k") }, "reloaded"},
		{"Purge", func(c *cache.Cache[string, string]) { c.Purge() }, "reloaded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newCache[string](t)
				ctx := context.Background()
				release := make(chan struct{})
				done := make(chan string)
				go func() {
					v, _ := c.Get(ctx, "k", func(context.Context, string) (string, error) {
						<-release // read before the change, returned after it
						return "loaded", nil
					})
					done <- v
				}()
				synctest.Wait()
				tc.meanwhile(c)
				// A Get after the change must not wait for the load started
				// before it (that would block here until release).
				v, err := c.Get(ctx, "k", func(context.Context, string) (string, error) { return "reloaded", nil })
				if v != tc.want || err != nil {
					t.Fatalf("Get after %s = %q, %v; want %q", tc.name, v, err, tc.want)
				}
				close(release)
				if v := <-done; v != "loaded" {
					t.Fatalf("the first load's caller got %q, want its result", v)
				}
				if v, _ := c.Peek("k"); v != tc.want {
					t.Fatalf("Peek = %q, want %q: the load from before %s overwrote it", v, tc.want, tc.name)
				}
			})
		})
	}
}

func TestLoaderContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache[string](t, cache.WithLoadTimeout(time.Minute))
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "caller"))
		var loadCtx context.Context
		release := make(chan struct{})
		done := make(chan error)
		go func() {
			_, err := c.Get(ctx, "k", func(lctx context.Context, _ string) (string, error) {
				loadCtx = lctx
				<-release
				return "v", nil
			})
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("the canceled caller got %v, want context.Canceled", err)
		}
		if loadCtx.Value(key{}) != "caller" {
			t.Error("the loader does not see the caller's values")
		}
		if err := loadCtx.Err(); err != nil || context.Cause(loadCtx) != nil {
			t.Errorf("the caller's cancellation reached the loader: %v, cause %v", err, context.Cause(loadCtx))
		}
		if dl, ok := loadCtx.Deadline(); !ok || dl != time.Now().Add(time.Minute) {
			t.Errorf("loader deadline %v, %v; want the load timeout from the start", dl, ok)
		}
		child, stop := context.WithCancel(loadCtx)
		defer stop()
		close(release)
		synctest.Wait()
		if child.Err() == nil {
			t.Error("a context derived in the loader outlived the load")
		}
		if v, ok := c.Peek("k"); !ok || v != "v" {
			t.Fatalf("the load's result was not stored: %q, %v", v, ok)
		}
	})
}

func TestCloseStopsLoadsAndRefusesNewOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := cache.New[string, int]("test", cache.WithTTL(time.Second), cache.WithStaleWhileRevalidate(time.Minute), cache.WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		c.Set("k", 1)
		time.Sleep(time.Second)
		var stopped bool
		v, err := c.Get(ctx, "k", func(ctx context.Context, _ string) (int, error) {
			<-ctx.Done() // a background refresh that only ends when canceled
			stopped = true
			return 0, ctx.Err()
		})
		if v != 1 || err != nil {
			t.Fatalf("stale Get = %d, %v", v, err)
		}
		synctest.Wait()
		c.Close()
		if !stopped {
			t.Fatal("Close returned before the background refresh stopped")
		}
		if v, err := c.Get(ctx, "k", nil); v != 1 || err != nil {
			t.Fatalf("after Close a stored value is served: got %d, %v", v, err)
		}
		if _, err := c.Get(ctx, "other", func(context.Context, string) (int, error) { return 2, nil }); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("a miss after Close: %v, want ErrClosed", err)
		}
		c.Close() // idempotent
	})
}

func TestCloseCancelsSupersededLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := cache.New[string, int]("test")
		if err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		go c.Get(context.Background(), "k", func(ctx context.Context, _ string) (int, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			return 0, ctx.Err()
		})
		synctest.Wait()
		c.Delete("k") // the load is no longer the key's, but still runs
		c.Close()
		select {
		case err := <-ended:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the loader's context ended with %v", err)
			}
		default:
			t.Fatal("Close returned while a superseded load still ran")
		}
	})
}

// TestCloseLeavesNoGoroutines runs outside a synctest bubble, with real
// goroutines: a background refresh blocked in its loader is gone once
// Close returns.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := cache.New[string, int]("test", cache.WithTTL(time.Nanosecond), cache.WithJitter(0), cache.WithStaleWhileRevalidate(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c.Set("k", 1) // stale from the next nanosecond on
	started := make(chan struct{})
	load := func(ctx context.Context, _ string) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	}
	// Hits read a clock that ticks every millisecond, so the first Gets
	// may still find the value fresh; one finds it stale within a tick.
	for refreshing := false; !refreshing; {
		if v, err := c.Get(context.Background(), "k", load); v != 1 || err != nil {
			t.Fatalf("Get = %d, %v", v, err)
		}
		select {
		case <-started:
			refreshing = true
		default:
			runtime.Gosched()
		}
	}
	c.Close()
}

// TestStatsCountEachGetOnce: as Stats documents, a Get counts in exactly
// one of Hits, NegativeHits, StaleServed, Misses and Coalesced, and in
// none when it returns ErrClosed.
func TestStatsCountEachGetOnce(t *testing.T) {
	t.Run("stale-if-error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newCache[int](t, cache.WithTTL(time.Second), cache.WithJitter(0), cache.WithStaleIfError(time.Minute))
			c.Set("k", 1)
			time.Sleep(time.Second)
			gate := make(chan struct{})
			failing := func(context.Context, string) (int, error) { <-gate; return 0, errors.New("down") }
			var wg sync.WaitGroup
			for range 2 { // the Get that loads, and one that waits for it
				wg.Go(func() {
					if v, err := c.Get(context.Background(), "k", failing); v != 1 || err != nil {
						t.Errorf("Get = %d, %v; want the stale value", v, err)
					}
				})
			}
			synctest.Wait()
			close(gate)
			wg.Wait()
			wantStats(t, c.Stats(), cache.Stats{StaleServed: 2, Loads: 1, LoadErrors: 1})
		})
	})
	t.Run("ErrClosed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := newCache[int](t)
			errs := make(chan error, 2)
			release := make(chan struct{})
			for range 2 {
				go func() {
					_, err := c.Get(context.Background(), "k", func(ctx context.Context, _ string) (int, error) {
						<-ctx.Done()
						<-release // returns only after its waiters were released
						return 0, ctx.Err()
					})
					errs <- err
				}()
			}
			synctest.Wait()
			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }()
			synctest.Wait()
			close(release)
			<-closed
			for range 2 {
				if err := <-errs; !errors.Is(err, cache.ErrClosed) {
					t.Fatalf("a Get waiting at Close got %v, want ErrClosed", err)
				}
			}
			if _, err := c.Get(context.Background(), "other", func(context.Context, string) (int, error) { return 1, nil }); !errors.Is(err, cache.ErrClosed) {
				t.Fatalf("a miss after Close got %v, want ErrClosed", err)
			}
			if st := c.Stats(); st.Misses != 0 || st.Coalesced != 0 {
				t.Fatalf("stats %+v: Gets that returned ErrClosed were counted", st)
			}
		})
	})
}

// TestConcurrentUse hammers a small cache from several goroutines with
// Gets, Sets, Deletes and Purges (hits read the shard's table without its
// lock; run with -race): every Get returns the one value its key can have,
// and the bound holds.
func TestConcurrentUse(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxKeys, shard int
	}{
		{"exact LRU", 4, 1},
		{"one shard", 64, 1},
		{"sharded", 256, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache[int](t, cache.WithMaxKeys(tc.maxKeys), cache.WithShards(tc.shard))
			value := func(k string) int { return len(k) * 7 }
			load := func(_ context.Context, k string) (int, error) { return value(k), nil }
			keys := make([]string, 4*tc.maxKeys)
			for i := range keys {
				keys[i] = strings.Repeat("k", i+1)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 2000 {
						k := keys[(i*(g+3))%len(keys)]
						switch i % 50 {
						case 0:
							c.Delete(k)
						case 1:
							c.Set(k, value(k))
						case 2:
							if g == 0 {
								c.Purge()
							}
						default:
							if v, err := c.Get(context.Background(), k, load); v != value(k) || err != nil {
								t.Errorf("Get(%q) = %d, %v; want %d", k, v, err, value(k))
								return
							}
						}
					}
				})
			}
			wg.Wait()
			if n := c.Len(); n > tc.maxKeys {
				t.Errorf("Len = %d, over the bound %d", n, tc.maxKeys)
			}
		})
	}
}

// TestNilOptionsAndProviders: a nil Option is an error from both
// constructors, never a silent drop; a nil MeterProvider is the global one,
// as in every paved package.
func TestNilOptionsAndProviders(t *testing.T) {
	if _, err := cache.NewResponseCache("x", nil); err == nil || !strings.HasPrefix(err.Error(), "cache: ") {
		t.Fatalf("NewResponseCache(nil option) = %v, want a cache: error", err)
	}
	c, err := cache.New[string, int]("x", cache.WithMeterProvider(nil))
	if err != nil {
		t.Fatalf("New(WithMeterProvider(nil)): %v", err)
	}
	defer c.Close()
	v, err := c.Get(context.Background(), "k", func(context.Context, string) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Get = %d, %v", v, err)
	}
	rc, err := cache.NewResponseCache("x", cache.WithMeterProvider(nil))
	if err != nil {
		t.Fatalf("NewResponseCache(WithMeterProvider(nil)): %v", err)
	}
	rc.Close()
}
