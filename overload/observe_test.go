package overload_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/overload"
)

func collect(t *testing.T, reader *sdkmetric.ManualReader) (decisions map[string]int64, limit int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	decisions = map[string]int64{}
	limit = -1
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "paved.overload.decisions":
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					name, _ := p.Attributes.Value(otelx.AttrOverloadName)
					class, _ := p.Attributes.Value("class")
					d, _ := p.Attributes.Value("decision")
					decisions[name.AsString()+"/"+class.AsString()+"/"+d.AsString()] += p.Value
				}
			case "paved.overload.limit":
				for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					limit = p.Value
				}
			}
		}
	}
	return decisions, limit
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		l, err := overload.NewLimiter("api", overload.WithLimits(2, 10), overload.WithQueue(1), overload.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		t1, _ := l.Acquire(context.Background(), overload.Critical)
		t2, _ := l.Acquire(context.Background(), overload.Critical)
		queued := make(chan error)
		go func() {
			tk, err := l.Acquire(context.Background(), overload.Critical)
			tk.Done()
			queued <- err
		}()
		synctest.Wait()
		if _, err := l.Acquire(context.Background(), overload.Sheddable); err == nil {
			t.Fatal("sheddable call admitted over the limit")
		}
		t1.Done()
		if err := <-queued; err != nil {
			t.Fatal(err)
		}
		t2.Done()
		got, limit := collect(t, reader)
		want := map[string]int64{
			"api/critical/admitted": 3,
			"api/critical/queued":   1,
			"api/sheddable/shed":    1,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("decisions[%s] = %d, want %d (all: %v)", k, got[k], v, got)
			}
		}
		if limit != 2 {
			t.Errorf("paved.overload.limit = %d, want 2", limit)
		}
	})
}

func TestDryRunLimiterMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		var logs bytes.Buffer
		l, err := overload.NewLimiter("trial", overload.WithLimits(1, 1), overload.WithDryRun(true),
			overload.WithMeterProvider(mp), overload.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var served atomic.Int64
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			<-release
		}))
		for range 3 {
			go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}
		synctest.Wait()
		if l.InFlight() != 3 {
			t.Errorf("InFlight = %d, want 3", l.InFlight())
		}
		close(release)
		synctest.Wait()
		if served.Load() != 3 {
			t.Errorf("served %d requests, want 3", served.Load())
		}
		got, _ := collect(t, reader)
		if got["trial/default/admitted"] != 1 || got["trial/default/shed"] != 2 {
			t.Errorf("decisions = %v, want 1 admitted and 2 shed", got)
		}
		if n := strings.Count(logs.String(), "would shed"); n != 1 {
			t.Errorf("logs = %q, want one dry-run line", logs.String())
		}
		time.Sleep(time.Second)
	})
}
