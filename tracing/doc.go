// Package tracing lets every request be followed end to end: one
// correlation id and one W3C trace from the edge through logs, spans,
// audit events and outgoing HTTP and gRPC calls.
//
//	handler := tracing.AccessLog(tracing.Middleware(mux))     // server side
//	client := &http.Client{Transport: tracing.Transport(nil)} // client side
//	logger := tracing.NewLogger(os.Stderr)                    // logs with the ids
//
// Configured Tracers (New) have the same methods: tr.Middleware,
// tr.Transport, tr.AccessLog; tracinggrpc.New(tr) brings the same
// configuration to gRPC.
//
// # Correlation ids
//
// Middleware reads the X-Correlation-ID header (WithHeader renames it;
// X-Request-ID is the fallback), keeps it when it holds exactly one value
// of at most 128 letters, digits and - _ . : / + =, and otherwise replaces
// it with a new UUIDv7: a bad id is never echoed into logs or headers. The
// id goes into the request context (CorrelationID), back to the client in
// the same header, and out with every call made through Transport or
// tracinggrpc, both as the header and as the OTel baggage member
// correlation_id, so services that read baggage instead of the header see
// it too. The baggage member is added at the outgoing call, not per
// request, so requests that call nothing do not pay for it.
//
// # Spans
//
// Spans and HTTP metrics come from otelhttp (and otelgrpc in tracinggrpc),
// not a re-implementation. Server spans are named by the http.ServeMux
// pattern that served the request ("GET /instances/{id}"), so names stay
// low-cardinality; WithFilter skips spans for health checks. Providers
// are the global ones unless WithTracerProvider or WithMeterProvider give
// others; package telemetry sets the globals up in one call, exporting
// OTLP when the standard OTEL_EXPORTER_OTLP_* variables say so, and
// serving /metrics for Prometheus with telemetry.WithPrometheus.
//
// # W3C Trace Context
//
// Propagation is W3C Trace Context and Baggage unless WithPropagators
// says otherwise. The Trace Context propagator is TraceContext, which
// reads and writes the same headers as OpenTelemetry's
// propagation.TraceContext and fixes where that one does not conform:
// several tracestate fields are combined into one list (§3.3.1.1), two
// traceparent fields start a new trace (§3.2), undefined trace-flags and
// spaces around a traceparent do not make it invalid (§3.2.2), blank
// tracestate members are allowed (§3.3.1.1), and an outgoing call carries
// one traceparent and one tracestate, never stale copies of the inbound
// ones. Middleware, Transport and tracinggrpc (which also reads every
// value of repeated gRPC metadata) all use it, with spans on or off: a
// service with spans off still passes its callers' trace context on
// unchanged, as the specification asks.
//
// # Access logs
//
// AccessLog writes one record per request with the method, the route
// pattern, the status (499 when the client went away), the body bytes,
// the duration in seconds and the correlation, trace and span ids, at
// Error for 5xx, Warn for 4xx and Info otherwise (DefaultAccessLogLevel;
// WithAccessLogLevel changes it). The path, query string
// and headers stay out unless WithAccessLogQuery or WithAccessLogHeaders
// ask for them, and then Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, X-Api-Key and secret-looking query parameters are redacted.
// WithFilter keeps health checks out of access logs as it keeps them out
// of spans:
//
//	handler := tr.AccessLog(tr.Middleware(mux))
//
// # Metrics
//
// Every paved package records its metrics under the instrumentation scope
// ScopeName ("github.com/paved-go/paved") through the MeterProvider it
// was given (the global one by default), with the same names, units and
// attributes everywhere, so one dashboard fits every service. Recording
// never allocates, and costs a nil check with a no-op MeterProvider. In
// Prometheus (telemetry.WithPrometheus) dots become underscores, counters
// gain _total, and units a suffix (paved_cache_load_duration_seconds).
//
//	metric                        kind       unit        attributes and their values
//	paved.breaker.calls           counter    {call}      paved.breaker.name; outcome = success, failure, slow, ignored, rejected
//	paved.breaker.state           gauge      {state}     paved.breaker.name; state = closed, open, half_open (1 for the current state, 0 for the others)
//	paved.breaker.shared.fallbacks counter   {call}      paved.breaker.name; reason = store_error, skipped (shared-state calls decided locally)
//	paved.ratelimit.decisions     counter    {decision}  paved.ratelimit.policy; decision = allowed, limited
//	paved.ratelimit.overflow      counter    {decision}  paved.ratelimit.policy (decisions made on a keyed limiter's shared overflow bucket)
//	paved.ratelimit.fallbacks     counter    {decision}  paved.ratelimit.limiter; reason = error, timeout, breaker_open (redisrate decisions made locally)
//	paved.retry.attempts          counter    {attempt}   paved.retry.name; outcome = success, retry (failed, will be retried), failure (failed, final)
//	paved.retry.budget.exhausted  counter    {retry}     paved.retry.name
//	paved.cache.requests          counter    {request}   paved.cache.name; result = hit, miss, stale, coalesced, negative, error
//	paved.cache.load.duration     histogram  s           paved.cache.name; buckets 0.005 0.01 0.025 0.05 0.075 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10
//	paved.cache.second_level.requests counter {request} paved.cache.name; result = hit, miss, waited, wait_expired, error, timeout, breaker_open (rediscache)
//	paved.authz.decisions         counter    {decision}  paved.authz.policy; decision = allow, deny, error
//	paved.audit.events            counter    {event}     paved.audit.sink; result = written, dropped, failed
//	paved.audit.queue.size        gauge      {event}     paved.audit.sink
//	paved.overload.decisions      counter    {decision}  paved.overload.name; class = critical, default, sheddable; decision = admitted, queued, shed
//	paved.overload.limit          gauge      {request}   paved.overload.name (an adaptive limiter's current limit)
//	paved.overload.throttle.decisions counter {decision} paved.overload.name; decision = sent, throttled (client-side throttling)
//	paved.idempotency.requests    counter    {request}   paved.idempotency.name; result = new, replayed, conflict, mismatch, released, error (store failed)
//	paved.faults.injected         counter    {fault}     paved.faults.name; rule; kind = latency, error, reset, abort
//
// The names (breaker, policy, retrier, cache, sink) are the ones given to
// each package's New; keys with unbounded values (client addresses, user
// ids, cache keys) never become attributes.
//
// HTTP and gRPC metrics follow OpenTelemetry's semantic conventions and
// come from otelhttp and otelgrpc: http.server.request.duration,
// http.server.request.body.size and http.server.response.body.size
// (attribute http.route is the ServeMux pattern), http.client.request.duration
// and http.client.request.body.size from Transport, and
// rpc.server.call.duration and rpc.client.call.duration from tracinggrpc.
//
// # Span events
//
// Decisions a person would want to see on a trace are span events on the
// current span, added only when it is recording:
//
//	event               added by             attributes
//	breaker.rejected    breaker              paved.breaker.name, paved.breaker.state (open, half_open), paved.breaker.dry_run
//	ratelimit.limited   ratelimit            paved.ratelimit.policy, paved.ratelimit.dry_run, paved.ratelimit.retry_after_ms
//	retry.attempt       retry                paved.retry.attempt (the attempt about to start, from 2), paved.retry.delay_ms
//	cache.stale_served  cache                paved.cache.name, paved.cache.stale.reason (revalidate, error)
//	authz.denied        authz                paved.authz.policy (the deciding rule, "none" when none matched), paved.authz.reason
//	overload.shed       overload             paved.overload.dry_run (when true)
//	idempotency.replayed, idempotency.conflict, idempotency.mismatch, idempotency.released, idempotency.store_error
//	                    idempotency          (none: the guard is the span's operation)
//	faults.injected     faults               rule, kind; the span also gets the attribute paved.faults.rule
//
// Server spans of Middleware and tracinggrpc carry the correlation id as
// the attribute paved.correlation_id (AttrCorrelationID).
//
// # Cost
//
// Measured on a 2-core machine (AMD EPYC) shared with other work, with
// go test -run XXX -bench 'Middleware|Spans|AccessLog' -benchmem -count=5 ./tracing/
// (medians; times vary by 30% or more between runs, allocation counts
// do not):
//
//	BenchmarkMiddleware/raw                          7 ns/op      0 B/op   0 allocs/op
//	BenchmarkMiddleware/paved/id-present           565 ns/op    352 B/op   1 allocs/op
//	BenchmarkMiddleware/paved/id-generated        1355 ns/op    416 B/op   2 allocs/op
//	BenchmarkMiddleware/paved/spans-noop-provider 7151 ns/op   2760 B/op  29 allocs/op
//	BenchmarkMiddleware/paved/spans-sdk          16773 ns/op   5480 B/op  34 allocs/op
//	BenchmarkSpans/raw (otelhttp alone)          10205 ns/op   2768 B/op  37 allocs/op
//	BenchmarkSpans/paved (spans on)               9758 ns/op   3888 B/op  41 allocs/op
//	BenchmarkSpans/paved/ids-only                 3448 ns/op   1792 B/op  12 allocs/op
//	BenchmarkAccessLog/raw                          13 ns/op      0 B/op   0 allocs/op
//	BenchmarkAccessLog/paved (JSON to io.Discard) 2229 ns/op    360 B/op   2 allocs/op
//
// BenchmarkSpans serves a request with a traceparent into a fresh
// httptest.ResponseRecorder, as users' tests do, with no-op providers.
// With spans on, paved costs what otelhttp costs plus the correlation
// id: the new id and its header value (one allocation), the response
// header entry (three in the recorder, as for any header a handler sets)
// and the request copy whose context carries the id (one); TraceContext
// parses the traceparent with one allocation fewer than OpenTelemetry's
// propagator. With spans off (ids-only), the caller's trace context is
// still read and passed on, which costs a request copy and the context
// holding the remote span.
//
// The correlation id alone costs one allocation (the request copy and its
// context node share it); a generated id adds one more (the id and its
// response header value share it). Spans cost what otelhttp costs, because
// otelhttp wraps the writer and builds semantic-convention attributes
// before it knows nobody listens: services that want only ids use
// WithSpans(false).
package tracing
