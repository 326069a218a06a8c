package cache_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/internal/otelx"
)

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		c := newNamedCache[int](t, "users", cache.WithMeterProvider(mp), cache.WithJitter(0),
			cache.WithTTL(time.Second), cache.WithStaleWhileRevalidate(time.Second), cache.WithNegativeCache(time.Minute, nil))
		ctx := context.Background()
		ok := func(context.Context, string) (int, error) { return 1, nil }

		notFound := func(context.Context, string) (int, error) { return 0, cache.ErrNotFound }
		failing := func(context.Context, string) (int, error) { return 0, errors.New("down") }
		c.Get(ctx, "a", ok)          // miss
		c.Get(ctx, "a", ok)          // hit
		c.Get(ctx, "gone", notFound) // miss, with a negative result
		c.Get(ctx, "gone", ok)       // negative
		c.Get(ctx, "b", failing)     // error
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 { // miss + coalesced
			wg.Go(func() { c.Get(ctx, "c", func(context.Context, string) (int, error) { <-gate; return 1, nil }) })
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		time.Sleep(time.Second)
		c.Get(ctx, "a", ok) // stale, plus a refresh
		synctest.Wait()

		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		var loads uint64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, p := range d.DataPoints {
						name, _ := p.Attributes.Value(otelx.AttrCacheName)
						result, _ := p.Attributes.Value("result")
						if m.Name == "paved.cache.requests" && name.AsString() == "users" {
							got[result.AsString()] = p.Value
						}
					}
				case metricdata.Histogram[float64]:
					if m.Name == "paved.cache.load.duration" && m.Unit == "s" {
						for _, p := range d.DataPoints {
							loads += p.Count
						}
					}
				}
			}
		}
		want := map[string]int64{"miss": 3, "hit": 1, "negative": 1, "error": 1, "coalesced": 1, "stale": 1}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("paved.cache.requests{result=%s} = %d, want %d (all: %v)", k, got[k], v, got)
			}
		}
		if st := c.Stats(); loads != st.Loads || loads != 5 {
			t.Errorf("load duration recorded %d times, %d loads", loads, st.Loads)
		}
	})
}

func TestStaleServedSpanEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		defer tp.Shutdown(context.Background())
		c := newNamedCache[int](t, "users", cache.WithTTL(time.Second), cache.WithJitter(0),
			cache.WithStaleWhileRevalidate(time.Minute))
		c.Set("k", 1)
		time.Sleep(time.Second)
		ctx, span := tp.Tracer("test").Start(context.Background(), "request")
		c.Get(ctx, "k", func(context.Context, string) (int, error) { return 2, nil })
		span.End()
		synctest.Wait()

		events := rec.Ended()[0].Events()
		if len(events) != 1 || events[0].Name != otelx.EventCacheStaleServed {
			t.Fatalf("events %+v, want one %s", events, otelx.EventCacheStaleServed)
		}
		attrs := attribute.NewSet(events[0].Attributes...)
		if v, _ := attrs.Value(otelx.AttrCacheName); v.AsString() != "users" {
			t.Errorf("event attributes %v", events[0].Attributes)
		}
		if v, _ := attrs.Value("paved.cache.stale.reason"); v.AsString() != "revalidate" {
			t.Errorf("event attributes %v", events[0].Attributes)
		}
	})
}

// TestHTTPMetricsCountEveryRequest: paved.cache.requests counts every
// request the ResponseCache answers, those that waited for a response
// they could not share (Set-Cookie) and then asked the handler included,
// as Stats does.
func TestHTTPMetricsCountEveryRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		rc, err := cache.NewResponseCache("pages", cache.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		gate := make(chan struct{})
		o := newOrigin(200, "Cache-Control", "max-age=60", "Set-Cookie", "s=1")
		h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-gate; o.ServeHTTP(w, r) }))
		const n = 3
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { do(h, "GET", "/a") })
		}
		synctest.Wait()
		close(gate)
		wg.Wait()

		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		var total int64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "paved.cache.requests" {
					for _, p := range d.DataPoints {
						result, _ := p.Attributes.Value("result")
						got[result.AsString()] = p.Value
						total += p.Value
					}
				}
			}
		}
		st := rc.Stats()
		if total != n || got["miss"] != int64(st.Misses) || got["coalesced"] != int64(st.Coalesced) {
			t.Fatalf("paved.cache.requests %v for %d requests; Stats %+v", got, n, st)
		}
	})
}
