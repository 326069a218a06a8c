package cache_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/paved-go/paved/cache"
)

const benchKeys = 1024

func benchKeyList() []string {
	ks := make([]string, benchKeys)
	for i := range ks {
		ks[i] = "instance-" + strconv.Itoa(i)
	}
	return ks
}

func loadLen(_ context.Context, k string) (int, error) { return len(k), nil }

// BenchmarkGet compares a hit in golang-lru's Cache (raw) with a hit in
// a paved Cache with default options (paved), serially and from all CPUs
// (parallel), over 1024 keys. paved/parallel-8-shards is the measurement
// behind the default of one shard on 2 CPUs; time.Now is the clock read a
// paved hit no longer makes (it reads the coarse clock), for scale.
func BenchmarkGet(b *testing.B) {
	ks := benchKeyList()
	ctx := context.Background()
	raw, _ := lru.New[string, int](cache.DefaultMaxKeys)
	paved, err := cache.New[string, int]("test")
	if err != nil {
		b.Fatal(err)
	}
	sharded, err := cache.New[string, int]("test", cache.WithShards(8))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { paved.Close(); sharded.Close() })
	for i, k := range ks {
		raw.Add(k, i)
		paved.Set(k, i)
		sharded.Set(k, i)
	}
	rawGet := func(k string) { raw.Get(k) }
	pavedGet := func(c *cache.Cache[string, int]) func(string) {
		return func(k string) { c.Get(ctx, k, loadLen) }
	}
	serial := func(name string, get func(string)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				get(ks[i%benchKeys])
				i++
			}
		})
	}
	parallel := func(name string, get func(string)) {
		b.Run(name, func(b *testing.B) {
			var next atomic.Int32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1)) * 397 // goroutines walk the keys out of step
				for pb.Next() {
					get(ks[i%benchKeys])
					i++
				}
			})
		})
	}
	serial("raw", rawGet)
	serial("paved", pavedGet(paved))
	parallel("raw/parallel", rawGet)
	parallel("paved/parallel", pavedGet(paved))
	parallel("paved/parallel-8-shards", pavedGet(sharded))
	b.Run("time.Now", func(b *testing.B) {
		b.ReportAllocs()
		var t time.Time
		for b.Loop() {
			t = time.Now()
		}
		_ = t
	})
}

// BenchmarkGetMiss compares a miss with a trivial loader: golang-lru's
// Get, then the loader through x/sync/singleflight, then Add (raw),
// against a paved Get (paved), which runs the load in its own goroutine
// with a context detached from the caller and bounded by the load timeout.
// Every iteration misses a new key; once the cache is full, each store
// evicts.
func BenchmarkGetMiss(b *testing.B) {
	ctx := context.Background()
	load := func(_ context.Context, k int) (int, error) { return k, nil }
	b.Run("raw", func(b *testing.B) {
		raw, _ := lru.New[int, int](cache.DefaultMaxKeys)
		var group singleflight.Group
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := raw.Get(i); !ok {
				v, _, _ := group.Do(strconv.Itoa(i), func() (any, error) { return load(ctx, i) })
				raw.Add(i, v.(int))
			}
			i++
		}
	})
	b.Run("paved", func(b *testing.B) {
		c, _ := cache.New[int, int]("test")
		b.Cleanup(func() { c.Close() })
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Get(ctx, i, load)
			i++
		}
	})
}

// discardWriter is a ResponseWriter that keeps one header map, so the
// benchmark measures the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware compares calling a small JSON API handler (raw)
// with serving its cached response (paved), and a 304 for a matching
// If-None-Match (paved/not-modified).
func BenchmarkMiddleware(b *testing.B) {
	type instance struct {
		ID, State, Shape, Compartment string
		OCPUs                         int
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(instance{"inst-0001", "RUNNING", "VM.Standard.E4.Flex", "dev", 2})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(body)
	})
	rc, err := cache.NewResponseCache("test")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rc.Close() })
	cached := rc.Middleware(handler)
	req := httptest.NewRequest("GET", "/instances/inst-0001", nil)
	w := &discardWriter{h: make(http.Header)}
	cached.ServeHTTP(w, req)
	etag := w.h.Get("Etag")
	run := func(name string, h http.Handler, r *http.Request) {
		b.Run(name, func(b *testing.B) {
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
	run("raw", handler, req)
	run("paved", cached, req)
	conditional := req.Clone(context.Background())
	conditional.Header.Set("If-None-Match", etag)
	run("paved/not-modified", cached, conditional)
}
