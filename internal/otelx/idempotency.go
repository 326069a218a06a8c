package otelx

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttrIdempotencyName is the attribute key naming an idempotency guard.
const AttrIdempotencyName = "paved.idempotency.name"

// Span events of the idempotency package.
const (
	EventIdempotencyReplayed = "idempotency.replayed"
	EventIdempotencyConflict = "idempotency.conflict"
	EventIdempotencyMismatch = "idempotency.mismatch"
	EventIdempotencyReleased = "idempotency.released"
	EventIdempotencyError    = "idempotency.store_error"
)

// Result values of paved.idempotency.requests, indexes of
// IdempotencyCounter.Add.
const (
	IdempotencyNew = iota
	IdempotencyReplayed
	IdempotencyConflict
	IdempotencyMismatch
	IdempotencyReleased
	IdempotencyError
)

var idempotencyResults = [...]string{"new", "replayed", "conflict", "mismatch", "released", "error"}

// IdempotencyCounter is one guard's paved.idempotency.requests, with every
// attribute set built once. A nil *IdempotencyCounter is a no-op.
type IdempotencyCounter struct {
	c    metric.Int64Counter
	on   bool
	opts [len(idempotencyResults)][]metric.AddOption
}

// IdempotencyRequests returns paved.idempotency.requests for the guard
// name, by result: new (first execution), replayed, conflict (in
// progress), mismatch (another fingerprint), released (not stored, the
// key freed for a retry) and error (the store failed).
func IdempotencyRequests(mp metric.MeterProvider, name string) (*IdempotencyCounter, error) {
	const metricName = "paved.idempotency.requests"
	m, on := meter(mp)
	c, err := m.Int64Counter(metricName, metric.WithUnit("{request}"),
		metric.WithDescription("Requests carrying an idempotency key, by result."))
	if err != nil {
		return nil, wrapMetricErr(metricName, err)
	}
	ic := &IdempotencyCounter{c: c, on: on}
	for i, r := range idempotencyResults {
		ic.opts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String(AttrIdempotencyName, name), attribute.String("result", r)))}
	}
	return ic, nil
}

// Add counts one request with the result index (IdempotencyNew, ...).
func (c *IdempotencyCounter) Add(ctx context.Context, result int) {
	if c == nil || !c.on {
		return
	}
	c.c.Add(ctx, 1, c.opts[result]...)
}
