package retry_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/retry"
)

// TestObservability: paved.retry.attempts counts each attempt's outcome
// and each retry adds a retry.attempt event to the caller's span, with or
// without hedging.
func TestObservability(t *testing.T) {
	for name, opts := range map[string][]retry.Option{
		"plain":   nil,
		"hedging": {retry.WithHedging(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reader := sdkmetric.NewManualReader()
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
				spans := tracetest.NewSpanRecorder()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
				r := mustNew(t, append([]retry.Option{retry.WithMeterProvider(mp), retry.WithBackoff(retry.Constant(time.Millisecond))}, opts...)...)

				ctx, span := tp.Tracer("test").Start(context.Background(), "call")
				if _, err := attempts(t, ctx, r, 2, errFlaky); err != nil {
					t.Fatal(err)
				}
				span.End()

				var rm metricdata.ResourceMetrics
				if err := reader.Collect(context.Background(), &rm); err != nil {
					t.Fatal(err)
				}
				got := map[string]int64{}
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						if m.Name != "paved.retry.attempts" {
							continue
						}
						for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
							outcome, _ := dp.Attributes.Value("outcome")
							got[outcome.AsString()] += dp.Value
						}
					}
				}
				if got["retry"] != 2 || got["success"] != 1 || got["failure"] != 0 {
					t.Fatalf("attempts by outcome %v, want 2 retry and 1 success", got)
				}
				var events []int64
				for _, s := range spans.Ended() {
					for _, e := range s.Events() {
						if e.Name != otelx.EventRetryAttempt {
							continue
						}
						for _, a := range e.Attributes {
							if a.Key == attribute.Key("paved.retry.attempt") {
								events = append(events, a.Value.AsInt64())
							}
						}
					}
				}
				if len(events) != 2 || events[0] != 2 || events[1] != 3 {
					t.Fatalf("retry.attempt events for attempts %v, want [2 3]", events)
				}
			})
		})
	}
}
