package idempotency_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/internal/registry"
)

func results(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.idempotency.requests" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				name, _ := p.Attributes.Value("paved.idempotency.name")
				r, _ := p.Attributes.Value("result")
				out[name.AsString()+"/"+r.AsString()] += p.Value
			}
		}
	}
	return out
}

func TestObservability(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	g, err := idempotency.New("launches", idempotency.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	var l launch
	h := mux(g, &l)
	traced := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("test").Start(r.Context(), "request")
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	k := []string{`"k"`}
	for _, q := range []req{
		{key: k, body: "a"}, // new
		{key: k, body: "a"}, // replayed
		{key: k, body: "b"}, // mismatch
		{key: []string{`"x"`}, target: "/instances?status=500"}, // new, released
	} {
		q.do(t, traced)
	}
	want := map[string]int64{"launches/new": 2, "launches/replayed": 1, "launches/mismatch": 1, "launches/released": 1}
	got := results(t, reader)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	var events []string
	for _, s := range spans.Ended() {
		for _, e := range s.Events() {
			events = append(events, e.Name)
		}
	}
	if strings.Join(events, ",") != "idempotency.replayed,idempotency.mismatch,idempotency.released" {
		t.Fatalf("span events %v", events)
	}

	var row *registry.Component
	for _, c := range registry.Snapshot() {
		if c.Kind == registry.KindIdempotency && c.Name == "launches" {
			row = &c
		}
	}
	if row == nil {
		t.Fatal("no status row for launches")
	}
	b, _ := json.Marshal(row.Stats)
	if row.State != "ok" || row.Health != registry.HealthOK || !strings.Contains(string(b), `"mismatches":1`) ||
		!strings.Contains(string(b), `"released":1`) || !strings.Contains(string(b), `"records":1`) {
		t.Fatalf("status row %+v %s", row, b)
	}
}

func TestStatusStoreFailing(t *testing.T) {
	g, _ := idempotency.New("failing-store", idempotency.WithLogger(slog.New(slog.DiscardHandler)),
		idempotency.WithStore(&failing{Store: must(idempotency.NewMemoryStore()), failFrom: 1}))
	req{key: []string{`"k"`}}.do(t, g.Middleware(&launch{}))
	for _, c := range registry.Snapshot() {
		if c.Name == "failing-store" {
			b, _ := json.Marshal(c.Stats)
			if c.State != "store_failing" || c.Health != registry.HealthBad || !strings.Contains(string(b), `"store_errors":1`) {
				t.Fatalf("status row %+v %s", c, b)
			}
			return
		}
	}
	t.Fatal("no status row")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A MemoryStore given with WithStore, shared by two guards, shows in each
// guard's row like a default one.
func TestStatusSharedMemoryStore(t *testing.T) {
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := idempotency.New("shared-a", idempotency.WithStore(store))
	b, _ := idempotency.New("shared-b", idempotency.WithStore(store))
	req{key: []string{`"k"`}, body: "a"}.do(t, a.Middleware(&launch{}))
	req{key: []string{`"k"`}, body: "a"}.do(t, b.Middleware(&launch{}))
	for _, name := range []string{"shared-a", "shared-b"} {
		var row *registry.Component
		for _, c := range registry.Snapshot() {
			if c.Kind == registry.KindIdempotency && c.Name == name {
				row = &c
			}
		}
		if row == nil {
			t.Fatalf("no status row for %s", name)
		}
		j, _ := json.Marshal(row.Stats)
		if !strings.Contains(string(j), `"records":2`) || !strings.Contains(string(j), `"max_bytes":67108864`) {
			t.Fatalf("%s: stats %s, want the shared store's 2 records", name, j)
		}
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}
