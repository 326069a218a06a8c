// Package status serves a live status page and status.json of every named
// breaker, rate-limit policy, cache, retry budget, overload limit, audit
// emitter, idempotency store and fault injector in the process.
package status
