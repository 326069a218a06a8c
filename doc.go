// Package paved is the paved road for Go services: small, composable
// packages that give a service circuit breakers, rate limits, coalescing
// caches, retries, audit events, expression-based authorization and
// tracing, as net/http middleware, http.RoundTripper wrappers and gRPC
// interceptors, configured with functional options.
//
// # The packages
//
// Each feature is its own package with the same shape: a
// transport-agnostic core type, then Middleware(next http.Handler)
// http.Handler and/or Transport(base http.RoundTripper)
// http.RoundTripper, then a gRPC subpackage with the standard interceptors.
//
//   - tracing: correlation ids, W3C trace context, OpenTelemetry spans and
//     metrics, and a trace-aware slog handler; tracing/tracinggrpc for gRPC
//     and tracing/telemetry to set up OpenTelemetry in one call.
//   - breaker: circuit breakers on sony/gobreaker with per-key registries
//     and fallbacks; breaker/breakergrpc for gRPC.
//   - ratelimit: per-caller token buckets on x/time/rate, 429 with
//     Retry-After and RateLimit headers; ratelimit/ratelimitgrpc for gRPC.
//     (Buckets shared in Redis across instances: planned.)
//   - retry: capped exponential backoff with jitter, retry budgets,
//     Retry-After, hedging; retry/retrygrpc for gRPC.
//   - cache: a generic coalescing cache with TTL jitter,
//     stale-while-revalidate, early refresh and stale-if-error, and an HTTP
//     response cache. (A Redis second level: planned.)
//   - authz: authenticators, principals and expr-lang policies. (planned)
//   - audit: who/what/when/where/outcome events with an async emitter and
//     durable sinks. (planned)
//   - platform: all of the above per API operation from an OpenAPI
//     document. (planned)
//
// # Composing
//
// Middleware composes with Chain, the first listed being the outermost.
// Tracing goes outside the ServeMux, so every log line, span and error
// carries the correlation id; per-operation policies go inside it, on each
// route, where r.Pattern names the operation:
//
//	limit, err := ratelimit.Middleware(ratelimit.Policy{Name: "api", Limiter: perKey, Key: ratelimit.APIKey})
//	...
//	perRoute := paved.Chain(limit, breaker.Middleware) // cheap rejections first
//	mux.Handle("GET /instances/{id}", perRoute(getInstance))
//	handler := tracing.Middleware(mux)
//
// On the client side, retry wraps breaker wraps the base transport, so an
// open breaker stops the retries at once:
//
//	r, err := retry.New(retry.WithName("inventory"))
//	b, err := breaker.New("inventory")
//	client := &http.Client{Transport: r.Transport(tracing.Transport(b.Transport(nil)))}
//
// Every package reports errors from one vocabulary (breaker.ErrOpen,
// ratelimit.ErrLimited, authz.ErrDenied, ...) that maps to one HTTP status
// and gRPC code each, answered as RFC 9457 problem+json.
//
// The examples/gateway program runs a demo API behind a gateway with every
// feature that has landed switched on: go run ./examples/gateway.
package paved
