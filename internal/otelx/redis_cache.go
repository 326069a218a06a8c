package otelx

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// CacheSecondLevel returns paved.cache.second_level.requests for one
// cache's shared second level (rediscache), by result: hit (the value was
// there), miss (not there; this instance took the lock and loads it),
// waited (another instance held the lock and its value arrived while
// this one waited), wait_expired (the bounded wait ran out; this instance
// loads without the lock), and the fallbacks, where the instance loads
// alone as if there were no second level: error (the store failed),
// timeout (no answer in time) and breaker_open (the breaker guarding the
// store let no call through).
func CacheSecondLevel(mp metric.MeterProvider, cache string) (*Counter, error) {
	return newCounter(mp, "paved.cache.second_level.requests", "{request}",
		"Lookups in a cache's shared second level, by result.",
		attribute.String(AttrCacheName, cache), "result", "hit", "miss", "waited", "wait_expired", "error", "timeout", "breaker_open")
}
