package cache_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/internal/registry/registrytest"
)

// statusRows returns the status page's rows of the name.
func statusRows(name string) []registry.Component { return registrytest.Rows(registry.KindCache, name) }

func statusRow(t *testing.T, name string) (registry.Component, cache.Report) {
	t.Helper()
	return registrytest.Row[cache.Report](t, registry.KindCache, name)
}

func wantSnakeJSON(t *testing.T, row registry.Component) { registrytest.WantSnakeJSON(t, row) }

func TestStatusCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newNamedCache[string](t, "status-cache", cache.WithMaxKeys(2), cache.WithShards(1),
			cache.WithTTL(time.Minute), cache.WithStaleIfError(time.Hour),
			cache.WithMaxCost(100, func(_, v string) int64 { return int64(len(v)) }))
		ctx := context.Background()
		errDown := errors.New("down")
		value := func(v string) func(context.Context, string) (string, error) {
			return func(context.Context, string) (string, error) { return v, nil }
		}
		failing := func(context.Context, string) (string, error) { return "", errDown }
		c.Get(ctx, "a", value("aaaa")) // miss
		c.Get(ctx, "a", value("x"))    // hit
		c.Get(ctx, "b", failing)       // miss, load error
		c.Get(ctx, "b", value("bb"))   // miss
		c.Get(ctx, "c", value("ccc"))  // miss; evicts a, the least recently used
		time.Sleep(2 * time.Minute)    // every entry is stale
		if v, err := c.Get(ctx, "c", failing); err != nil || v != "ccc" {
			t.Fatalf("Get = %q, %v; want the stale ccc", v, err)
		}

		row, r := statusRow(t, "status-cache")
		want := cache.Report{Entries: 2, MaxEntries: 2, Cost: 5, MaxCost: 100, CostUnit: "cost",
			HitRatio: 2.0 / 6, HitRatioLastMin: 2.0 / 6,
			Hits: 1, StaleServed: 1, Misses: 4, Loads: 5, LoadErrors: 2, Evictions: 1, LoadErrorsPerMin: 1}
		if r != want {
			t.Errorf("stats\n got %+v\nwant %+v", r, want)
		}
		if row.State != "load_errors" || row.Health != registry.HealthWarn || row.Value != 2.0/6 || row.Unit != "hit ratio" {
			t.Errorf("row = %+v, want load_errors, warn, hit ratio 1/3", row)
		}
		wantSnakeJSON(t, row)

		// A minute of hits only.
		time.Sleep(time.Minute)
		c.Set("c", "ccc")
		for range 3 {
			c.Get(ctx, "c", failing)
		}
		time.Sleep(time.Second)
		row, r = statusRow(t, "status-cache")
		if row.State != "ok" || row.Health != registry.HealthOK || r.LoadErrorsPerMin != 0 || r.Hits != 4 {
			t.Errorf("after a minute of hits: row = %+v, want ok, no load errors, 4 hits", row)
		}
		if r.HitRatioLastMin != 1 || r.HitRatio != 5.0/9 {
			t.Errorf("hit ratio %v over the last minute, %v in all; want 1 and 5/9", r.HitRatioLastMin, r.HitRatio)
		}
	})
}

func TestStatusCacheUntrackedCost(t *testing.T) {
	c := newNamedCache[int](t, "status-untracked")
	c.Set("a", 1)
	row, r := statusRow(t, "status-untracked")
	want := cache.Report{Entries: 1, MaxEntries: cache.DefaultMaxKeys, CostUnit: "untracked"}
	if r != want {
		t.Errorf("stats\n got %+v\nwant %+v", r, want)
	}
	if row.State != "ok" || row.Value != 0 {
		t.Errorf("row = %+v, want ok, hit ratio 0", row)
	}
}

func TestStatusResponseCache(t *testing.T) {
	rc, err := cache.NewResponseCache("status-responses")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	body := strings.Repeat("x", 1000)
	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(body))
	}))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/page", nil))
		if rec.Body.String() != body {
			t.Fatalf("body of %d bytes, want %d", rec.Body.Len(), len(body))
		}
	}
	row, r := statusRow(t, "status-responses")
	if r.CostUnit != "bytes" || r.Entries != 1 || r.Cost < int64(len(body)) || r.MaxCost != cache.DefaultMaxBytes {
		t.Errorf("stats = %+v, want one response of over %d bytes, out of %d", r, len(body), cache.DefaultMaxBytes)
	}
	if r.Hits != 2 || r.Misses != 1 || r.HitRatio != 2.0/3 || row.State != "ok" {
		t.Errorf("row = %+v, want 2 hits, 1 miss, ok", row)
	}
	if n := len(statusRows("status-responses")); n != 1 {
		t.Errorf("%d rows: the inner cache must not report a second one", n)
	}
}

func TestStatusCacheRegistration(t *testing.T) {
	t.Run("Close removes", func(t *testing.T) {
		for _, closer := range []struct {
			name string
			new  func() (func() error, error)
		}{
			{"Cache", func() (func() error, error) {
				c, err := cache.New[string, int]("status-closed-Cache")
				return c.Close, err
			}},
			{"ResponseCache", func() (func() error, error) {
				c, err := cache.NewResponseCache("status-closed-ResponseCache")
				return c.Close, err
			}},
		} {
			t.Run(closer.name, func(t *testing.T) {
				closeFn, err := closer.new()
				if err != nil {
					t.Fatal(err)
				}
				name := "status-closed-" + closer.name
				if len(statusRows(name)) != 1 {
					t.Fatal("not registered")
				}
				closeFn()
				if rows := statusRows(name); len(rows) != 0 {
					t.Errorf("closed, yet reported: %+v", rows)
				}
			})
		}
	})
	t.Run("registration off", func(t *testing.T) {
		registry.SetEnabled(false)
		c := newNamedCache[int](t, "status-off")
		registry.SetEnabled(true)
		if rows := statusRows("status-off"); len(rows) != 0 {
			t.Errorf("built with registration off, yet reported: %+v", rows)
		}
		runtime.KeepAlive(c)
	})
	t.Run("unreachable drops out", func(t *testing.T) {
		// A ResponseCache: an unreachable Cache that was never closed
		// would keep its hold on the coarse clock, whose goroutine goleak
		// then reports.
		func() {
			rc, err := cache.NewResponseCache("status-dropped")
			if err != nil {
				t.Fatal(err)
			}
			if len(statusRows("status-dropped")) != 1 {
				t.Fatal("not registered")
			}
			runtime.KeepAlive(rc)
		}()
		for i := 0; i < 10 && len(statusRows("status-dropped")) > 0; i++ {
			runtime.GC()
		}
		if rows := statusRows("status-dropped"); len(rows) != 0 {
			t.Errorf("unreachable cache still reported: %+v", rows)
		}
	})
}

// TestStatusCacheUnderTraffic reports while Gets go on, for the race
// detector.
func TestStatusCacheUnderTraffic(t *testing.T) {
	c := newNamedCache[int](t, "status-traffic", cache.WithMaxKeys(64))
	ctx := context.Background()
	load := func(_ context.Context, k string) (int, error) { return len(k), nil }
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				c.Get(ctx, strconv.Itoa((g*7+i)%100), load)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			statusRows("status-traffic")
		}
	}()
	wg.Wait()
	<-done
	if _, r := statusRow(t, "status-traffic"); r.Hits+r.Misses+r.Coalesced != 8000 || r.Entries > 64 {
		t.Errorf("stats = %+v, want 8000 gets and at most 64 entries", r)
	}
}
