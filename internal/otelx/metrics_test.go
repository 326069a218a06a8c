package otelx_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-go/paved/internal/otelx"
)

// collect returns every int64 data point of the named metric, keyed by
// its attribute set.
func collect(t *testing.T, r *sdkmetric.ManualReader, name string) (metricdata.Metrics, map[attribute.Distinct]int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelx.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			points := map[attribute.Distinct]int64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Equivalent()] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Equivalent()] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Equivalent()] = int64(p.Count)
				}
			}
			return m, points
		}
	}
	t.Fatalf("metric %s not found", name)
	return metricdata.Metrics{}, nil
}

func set(kvs ...string) attribute.Distinct {
	var as []attribute.KeyValue
	for i := 0; i < len(kvs); i += 2 {
		as = append(as, attribute.String(kvs[i], kvs[i+1]))
	}
	s := attribute.NewSet(as...)
	return s.Equivalent()
}

func TestCounters(t *testing.T) {
	tests := []struct {
		name     string
		new      func(*sdkmetric.MeterProvider) (*otelx.Counter, error)
		metric   string
		unit     string
		subject  string
		key      string
		outcomes []string
	}{
		{"breaker", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) { return otelx.BreakerCalls(mp, "s") },
			"paved.breaker.calls", "{call}", "paved.breaker.name", "outcome", []string{"success", "failure", "slow", "ignored", "rejected"}},
		{"ratelimit", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) {
			return otelx.RateLimitDecisions(mp, "s")
		},
			"paved.ratelimit.decisions", "{decision}", "paved.ratelimit.policy", "decision", []string{"allowed", "limited"}},
		{"retry", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) { return otelx.RetryAttempts(mp, "s") },
			"paved.retry.attempts", "{attempt}", "paved.retry.name", "outcome", []string{"success", "retry", "failure"}},
		{"cache", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) { return otelx.CacheRequests(mp, "s") },
			"paved.cache.requests", "{request}", "paved.cache.name", "result", []string{"hit", "miss", "stale", "coalesced", "negative", "error"}},
		{"authz", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) { return otelx.AuthzDecisions(mp, "s") },
			"paved.authz.decisions", "{decision}", "paved.authz.policy", "decision", []string{"allow", "deny", "error"}},
		{"audit", func(mp *sdkmetric.MeterProvider) (*otelx.Counter, error) { return otelx.AuditEvents(mp, "s") },
			"paved.audit.events", "{event}", "paved.audit.sink", "result", []string{"written", "dropped", "failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
			c, err := tc.new(mp)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tc.outcomes {
				for range i + 1 {
					c.Add(context.Background(), o)
				}
			}
			c.Add(context.Background(), "unlisted")
			m, points := collect(t, r, tc.metric)
			if m.Unit != tc.unit {
				t.Errorf("unit %q, want %q", m.Unit, tc.unit)
			}
			for i, o := range tc.outcomes {
				if got := points[set(tc.subject, "s", tc.key, o)]; got != int64(i+1) {
					t.Errorf("%s=%s: %d, want %d", tc.key, o, got, i+1)
				}
			}
			if got := points[set(tc.subject, "s", tc.key, "unlisted")]; got != 1 {
				t.Errorf("unlisted outcome: %d, want 1", got)
			}
		})
	}
}

func TestGaugesAndHistogram(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	ctx := context.Background()

	series, other := otelx.NewBreakerStateSeries("b"), otelx.NewBreakerStateSeries("c")
	live := true
	reg, err := otelx.BreakerStates(mp, func(o otelx.StateObserver) {
		if live {
			o.Observe(series, 1) // open
		}
		o.Observe(other, 0)
	})
	if err != nil || reg == nil {
		t.Fatalf("BreakerStates = %v, %v", reg, err)
	}
	_, points := collect(t, r, "paved.breaker.state")
	for st, want := range map[string]int64{"closed": 0, "open": 1, "half_open": 0} {
		if got, ok := points[set("paved.breaker.name", "b", "state", st)]; !ok || got != want {
			t.Errorf("state %s = %d (reported: %v), want %d", st, got, ok, want)
		}
	}
	live = false // a subject no longer observed has no series
	if _, points := collect(t, r, "paved.breaker.state"); len(points) != 3 || points[set("paved.breaker.name", "c", "state", "closed")] != 1 {
		t.Errorf("with b no longer observed: %v, want only c's 3 series", points)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}

	q, _ := otelx.AuditQueueSize(mp, "file")
	q.Record(ctx, 42)
	if _, points := collect(t, r, "paved.audit.queue.size"); points[set("paved.audit.sink", "file")] != 42 {
		t.Errorf("queue size points = %v", points)
	}

	h, _ := otelx.CacheLoadDuration(mp, "users")
	h.Record(ctx, 150*time.Millisecond)
	h.Record(ctx, time.Second)
	m, points := collect(t, r, "paved.cache.load.duration")
	if m.Unit != "s" || points[set("paved.cache.name", "users")] != 2 {
		t.Errorf("load duration: unit %q, points %v", m.Unit, points)
	}

	ex, _ := otelx.RetryBudgetExhausted(mp, "up")
	ex.Add(ctx, "")
	if _, points := collect(t, r, "paved.retry.budget.exhausted"); points[set("paved.retry.name", "up")] != 1 {
		t.Errorf("budget exhausted points = %v", points)
	}
}

func TestNoopAndNilInstruments(t *testing.T) {
	ctx := context.Background()
	c, err := otelx.BreakerCalls(noop.NewMeterProvider(), "b")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, "success")
	var nc *otelx.Counter
	nc.Add(ctx, "success")
	var ng *otelx.Gauge
	ng.Record(ctx, 1)
	if reg, err := otelx.BreakerStates(noop.NewMeterProvider(), func(otelx.StateObserver) {}); reg != nil || err != nil {
		t.Errorf("BreakerStates on a no-op provider = %v, %v; want nil, nil", reg, err)
	}
	var nh *otelx.Histogram
	nh.Record(ctx, time.Second)
	if n := testing.AllocsPerRun(100, func() { c.Add(ctx, "failure") }); n != 0 {
		t.Errorf("no-op counter allocates %v per Add", n)
	}
}

// TestCacheLoadDurationBuckets checks that loads of a few milliseconds and
// of a few hundred land in different buckets: the SDK's default
// boundaries (0, 5, 10, 25, ...) are for milliseconds and would put every
// load under 5 s in one bucket of this seconds histogram.
func TestCacheLoadDurationBuckets(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	h, err := otelx.CacheLoadDuration(mp, "users")
	if err != nil {
		t.Fatal(err)
	}
	h.Record(context.Background(), 3*time.Millisecond)
	h.Record(context.Background(), 300*time.Millisecond)
	m, _ := collect(t, r, "paved.cache.load.duration")
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
	for i, n := range dp.BucketCounts {
		if n == 2 {
			t.Fatalf("3ms and 300ms share bucket %d (bounds %v)", i, dp.Bounds)
		}
	}
}

func BenchmarkCounter(b *testing.B) {
	ctx := context.Background()
	sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { sdk.Shutdown(ctx) })
	for _, tc := range []struct {
		name string
		new  func() (*otelx.Counter, error)
	}{
		{"noop-provider", func() (*otelx.Counter, error) { return otelx.BreakerCalls(noop.NewMeterProvider(), "b") }},
		{"global-unset", func() (*otelx.Counter, error) { return otelx.BreakerCalls(nil, "b") }},
		{"sdk", func() (*otelx.Counter, error) { return otelx.BreakerCalls(sdk, "b") }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := tc.new()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.Add(ctx, "success")
				}
			})
		})
	}
}
