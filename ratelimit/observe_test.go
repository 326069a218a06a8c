package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/ratelimit"
)

// The middleware's metrics, span events, logs and dry-run mode.

func TestMiddlewareDryRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))

		next := &served{}
		mw := middleware(t, ratelimit.Policy{Name: "trial", Limiter: keyed(t, rate.Every(time.Hour), 1)},
			ratelimit.WithDryRun(true), ratelimit.WithMeterProvider(mp), ratelimit.WithLogger(logger))
		h := mw(next)
		for i := range 4 {
			ctx, span := tp.Tracer("test").Start(context.Background(), "request")
			r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
			r.RemoteAddr = "198.51.100.1:1"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			span.End()
			check(t, i, w, want{status: 200})
		}
		if next.n != 4 {
			t.Fatalf("handler ran %d times, want 4", next.n)
		}
		got := decisionCounts(t, reader)
		if got["trial/allowed"] != 1 || got["trial/limited"] != 3 {
			t.Fatalf("decisions = %v, want 1 allowed and 3 limited", got)
		}
		var events int
		for _, s := range spans.Ended() {
			for _, e := range s.Events() {
				if e.Name == otelx.EventRateLimitLimited {
					events++
					if !slices.Contains(e.Attributes, attribute.Bool("paved.ratelimit.dry_run", true)) ||
						!slices.Contains(e.Attributes, attribute.String(otelx.AttrRateLimitPolicy, "trial")) {
						t.Errorf("event attributes = %v", e.Attributes)
					}
				}
			}
		}
		if events != 3 {
			t.Fatalf("%d ratelimit.limited events, want 3", events)
		}
		// Three would-be rejections in one instant log one line.
		if n := strings.Count(logs.String(), "would be limited"); n != 1 || strings.Contains(logs.String(), "198.51.100.1") {
			t.Fatalf("logs = %q, want one line without the client address", logs.String())
		}
		time.Sleep(time.Second)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if !strings.Contains(logs.String(), "suppressed=2") {
			t.Fatalf("logs = %q, want the second line to count 2 suppressed", logs.String())
		}
	})
}

// TestMiddlewareDryRunRejectsNothing checks that dry run also lets through
// requests the middleware would reject for having no key: turning a
// policy on in dry run must change nothing a client sees.
func TestMiddlewareDryRunRejectsNothing(t *testing.T) {
	var logs bytes.Buffer
	next := &served{}
	h := middleware(t, ratelimit.Policy{Name: "tenant", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimit.Header("X-Tenant")},
		ratelimit.WithDryRun(true), ratelimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))(next)
	for i := range 3 {
		check(t, i, call(h, "GET", "/", "198.51.100.1:1", ""), want{status: 200})
	}
	if next.n != 3 {
		t.Fatalf("handler ran %d times, want 3", next.n)
	}
	if !strings.Contains(logs.String(), "dry run") {
		t.Fatalf("logs = %q, want a dry-run line", logs.String())
	}
}

func decisionCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.ratelimit.decisions" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				policy, _ := p.Attributes.Value(otelx.AttrRateLimitPolicy)
				decision, _ := p.Attributes.Value("decision")
				got[policy.AsString()+"/"+decision.AsString()] += p.Value
			}
		}
	}
	return got
}

func TestMiddlewareCountsAndEvents(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	h := middleware(t, ratelimit.Policy{Name: "counted", Limiter: keyed(t, rate.Every(time.Hour), 1)}, ratelimit.WithMeterProvider(mp))(&served{})
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	for range 2 {
		r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	span.End()
	if got := decisionCounts(t, reader); got["counted/allowed"] != 1 || got["counted/limited"] != 1 {
		t.Errorf("decisions = %v, want 1 allowed and 1 limited", got)
	}
	events := spans.Ended()[0].Events()
	if len(events) != 1 || events[0].Name != otelx.EventRateLimitLimited ||
		!slices.ContainsFunc(events[0].Attributes, func(kv attribute.KeyValue) bool {
			// Real time passes between the two requests.
			return kv.Key == "paved.ratelimit.retry_after_ms" && kv.Value.AsInt64() > time.Hour.Milliseconds()-60_000
		}) {
		t.Fatalf("events = %v, want one ratelimit.limited retrying after about an hour", events)
	}
}

// TestOverflowIsCounted fills a store of one key with a drained bucket:
// requests from other clients share the overflow bucket, and each such
// decision counts in paved.ratelimit.overflow.
func TestOverflowIsCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	k, err := ratelimit.NewKeyed(rate.Every(time.Hour), 1, ratelimit.WithMaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	h := middleware(t, ratelimit.Policy{Name: "small", Limiter: k}, ratelimit.WithMeterProvider(mp))(&served{})
	for i, remote := range []string{"198.51.100.1:1", "198.51.100.2:1", "198.51.100.3:1", "198.51.100.1:2"} {
		want := []int{200, 200, 429, 429}[i]
		if w := call(h, "GET", "/", remote, ""); w.Code != want {
			t.Fatalf("request %d: status %d, want %d", i, w.Code, want)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var overflow int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "paved.ratelimit.overflow" {
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					if v, _ := p.Attributes.Value(otelx.AttrRateLimitPolicy); v.AsString() == "small" && p.Attributes.Len() == 1 {
						overflow += p.Value
					}
				}
			}
		}
	}
	if got := decisionCounts(t, reader); overflow != 2 || got["small/allowed"] != 2 || got["small/limited"] != 2 {
		t.Fatalf("overflow = %d, decisions = %v; want 2 overflow, 2 allowed, 2 limited", overflow, got)
	}
}

// failing is a Decider whose store is down.
type failing struct{}

func (failing) Decide(context.Context, string, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("store unreachable")
}
func (failing) Quota() ratelimit.Quota { return ratelimit.Quota{Limit: 1, Burst: 1} }

func TestMiddlewareLetsThroughWhenLimiterFails(t *testing.T) {
	var logs bytes.Buffer
	next := &served{}
	h := middleware(t, ratelimit.Policy{Name: "shared", Limiter: failing{}},
		ratelimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))(next)
	for i := range 3 {
		check(t, i, call(h, "GET", "/", "198.51.100.1:1", ""), want{status: 200})
	}
	if next.n != 3 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "store unreachable") {
		t.Fatalf("handler ran %d times, logs %q; want 3 and a warning", next.n, logs.String())
	}
}
