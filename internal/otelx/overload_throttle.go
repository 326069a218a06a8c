package otelx

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Decisions of paved.overload.throttle.decisions.
const (
	ThrottleSent      = "sent"
	ThrottleThrottled = "throttled"
)

// ThrottleDecisions returns paved.overload.throttle.decisions for one
// client-side throttle, by decision: "sent" for a request it let through,
// "throttled" for one it rejected locally.
func ThrottleDecisions(mp metric.MeterProvider, name string) (*Counter, error) {
	return newCounter(mp, "paved.overload.throttle.decisions", "{request}",
		"Client-side adaptive throttling decisions, by decision.",
		attribute.String(AttrOverloadName, name), "decision", ThrottleSent, ThrottleThrottled)
}
