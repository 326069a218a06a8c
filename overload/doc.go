// Package overload protects a service from load beyond its own capacity:
// bulkheads, adaptive concurrency limits, priority load shedding and
// client-side adaptive throttling.
package overload
