package otelx

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// BreakerSharedFallbacks returns breaker's paved.breaker.shared.fallbacks
// counter: calls of a breaker with shared state that were decided with
// its local state, by reason: "store_error" (the store failed on this
// call) or "skipped" (it failed recently and is not asked until its
// retry time).
func BreakerSharedFallbacks(mp metric.MeterProvider, breaker string) (*Counter, error) {
	return newCounter(mp, "paved.breaker.shared.fallbacks", "{call}",
		"Calls of a circuit breaker with shared state decided locally because the shared store failed.",
		attribute.String(AttrBreakerName, breaker), "reason", "store_error", "skipped")
}
