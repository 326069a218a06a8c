package otelx

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttrRateLimitLimiter is the attribute naming a distributed rate limiter
// (redisrate's name) on paved.ratelimit.fallbacks.
const AttrRateLimitLimiter = "paved.ratelimit.limiter"

// RateLimitFallbacks returns paved.ratelimit.fallbacks for one
// distributed limiter: decisions made by its fallback instead of its
// shared store, by reason: error (the store answered with an error or the
// connection failed), timeout (no answer within the limiter's timeout) and
// breaker_open (the breaker guarding the store let no call through).
func RateLimitFallbacks(mp metric.MeterProvider, limiter string) (*Counter, error) {
	return newCounter(mp, "paved.ratelimit.fallbacks", "{decision}",
		"Rate limit decisions a distributed limiter made by its fallback because its shared store failed, was slow or was cut off by its breaker, by reason.",
		attribute.String(AttrRateLimitLimiter, limiter), "reason", "error", "timeout", "breaker_open")
}
