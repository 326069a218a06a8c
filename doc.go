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
//     Retry-After and RateLimit headers; ratelimit/ratelimitgrpc for gRPC
//     and ratelimit/redisrate for buckets shared in Redis.
//   - retry: capped exponential backoff with jitter, retry budgets,
//     Retry-After, hedging; retry/retrygrpc for gRPC.
//   - cache: a generic coalescing cache with TTL jitter,
//     stale-while-revalidate, early refresh and stale-if-error, and a
//     shared RFC 9111 HTTP response cache; cache/rediscache for a Redis
//     second level with a fleet-wide lock on miss.
//   - pavedgrpc: the same error vocabulary as gRPC statuses, for a
//     service's own gRPC handlers.
//   - authz: API keys and JWT authentication, principals, and expr-lang
//     allow/forbid rules over the principal, the request and looked-up
//     resources; authz/authzgrpc for gRPC.
//   - audit: CloudEvents audit events per API call with an asynchronous
//     emitter and durable sinks (a hash-chained file, webhooks, slog,
//     OpenTelemetry logs); audit/auditgrpc for gRPC.
//   - overload: bulkheads, adaptive concurrency limits, priority shedding
//     and client-side throttling; overload/overloadgrpc for gRPC.
//   - idempotency: server-side Idempotency-Key: a request runs once, its
//     response is replayed to retries; idempotency/idempotencygrpc for
//     gRPC and idempotency/redisidempotency for a store shared in Redis.
//   - faults: fault injection (latency, errors, resets, aborted
//     responses) for drills, off unless the user mounts its control;
//     faults/faultsgrpc for gRPC.
//   - status: a live status page and status.json of every named breaker,
//     limit, cache, queue, idempotency guard and fault injector.
//   - platform: all of the above per API operation from an OpenAPI
//     document's x-platform extension.
//
// # One convention
//
// Every package has the same shape, so learning one teaches the others.
//
// Construction. A package's core value is built by New (NewX when a
// package has several) from functional options, and New validates all of
// them: a bad value, a nil function or an option that does not apply is an
// error from New that names the package and the option, never a silent
// drop and never a panic at the first request. A value that reports
// metrics, logs and status under one name takes that name first:
// breaker.New("inventory"), retry.New("inventory"),
// cache.New[string, Item]("items"), cache.NewResponseCache("pages").
// Values that hold many instances name them by key (a breaker.Registry
// names each breaker by its route or host); ratelimit's buckets
// (ratelimit.New, ratelimit.NewKeyed) are primitives like rate.Limiter,
// named by the Policy that uses them. Parameters with no safe default
// come next, positionally: ratelimit.NewKeyed(10, 20).
//
// Adapters. HTTP adapters are methods of a configured value:
// v.Middleware(next http.Handler) http.Handler and
// v.Transport(base http.RoundTripper) http.RoundTripper. Where zero
// configuration is useful, a package function of the same name applies
// the package defaults (breaker.Middleware, retry.Transport,
// tracing.Middleware, cache.Middleware). gRPC adapters live in the
// package's *grpc subpackage: its New(core, opts...) (*Interceptors,
// error) validates that subpackage's options, and the methods
// UnaryServerInterceptor, StreamServerInterceptor, UnaryClientInterceptor
// and StreamClientInterceptor return the standard grpc types.
//
// Nil. A nil dependency means a documented default, never a nil-pointer
// panic at the first call: a nil base RoundTripper is paved's default base
// transport (DefaultTransport, pooled for service-to-service calls), a nil
// *slog.Logger is slog.Default() at the time of logging, a nil
// MeterProvider or TracerProvider is the global one, and a nil core value
// given to a *grpc New is that package's zero-config default. An adapter
// method called on a nil value is the package function of the same name
// ((*breaker.Breaker)(nil).Middleware is breaker.Middleware, a nil
// *tracing.Tracer is tracing.Default()); ratelimit and overload, which
// have no default rate or capacity, and audit, which has no default sink,
// pass requests through and log the mistake, and authz, which
// denies by default, fails closed: a nil *authz.Authorizer denies every
// request and its Check reports the mistake. Where no default makes
// sense, New returns an error.
//
// Options. A name means the same in every package: WithMaxKeys bounds the
// number of keys (breakers, buckets, cache entries) held in memory;
// WithLogger, WithMeterProvider, and WithTracerProvider only where a
// package starts spans of its own; WithErrorHandler replaces how
// middleware answers an error (WriteError by default); WithFilter skips
// requests such as health checks; WithDryRun decides and reports without
// enforcing.
//
// Errors. Each package exports sentinel errors (breaker.ErrOpen,
// ratelimit.ErrLimited, ...) and typed errors that unwrap to them and
// carry data (*ratelimit.LimitError{RetryAfter}). Every one declares the
// HTTP status it maps to; WriteError answers any error as RFC 9457
// problem+json with that status, Retry-After and the correlation id, and
// pavedgrpc maps the same errors to gRPC statuses. Errors of the libraries
// underneath never reach a caller unwrapped.
//
// # Answering errors
//
// The pieces paved's own middleware uses are public, so a service answers
// its own errors the same way:
//
//   - WriteError(w, r, err) answers any error as RFC 9457 problem+json:
//     the status the error declares (HTTPStatus), Retry-After from its
//     RetryDelay, the request's correlation id, and as detail only the
//     message of the error that decides the status; an error paved does
//     not know is a bare 500 that never echoes its text. A request the
//     client canceled is 499 (StatusClientClosedRequest) for the access
//     log, a passed deadline 504: no error path ends in an implicit 200.
//   - NewError(status, msg) declares a service's own sentinel errors; any
//     error type joins the vocabulary with an HTTPStatus() int method
//     (and RetryDelay() time.Duration where a client should wait).
//   - Problem and WriteProblem send a problem type of the service's own,
//     with extension members; ProblemOf(err) is where WriteError starts.
//   - pavedgrpc maps the same errors to gRPC statuses, with RetryInfo and
//     the grpc-retry-pushback-ms trailer.
//   - ProblemMux answers an http.ServeMux's own 404 and 405 (with Allow)
//     as problem+json.
//   - NewResponseWriter records the status and size a handler sent, for
//     access logs, keeping Flush, Hijack, ReadFrom, 1xx responses and
//     http.ResponseController working.
//   - DefaultTransport is the base transport every paved RoundTripper
//     uses given nil, pooled for service-to-service calls.
//
// # Composing
//
// Middleware composes with Chain, the first listed being the outermost.
// Tracing goes outside the ServeMux, so every log line, span and error
// carries the correlation id; per-operation policies go inside it, on each
// route, where r.Pattern names the operation:
//
//	perKey, err := ratelimit.NewKeyed(10, 20)
//	limits, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: perKey, Key: ratelimit.APIKey})
//	az, err := authz.New(authz.WithAuthenticator(keys), authz.WithRoute("GET /instances/{id}", ownInstance))
//	trail, err := audit.New("api", audit.WithSink(fileSink))
//	...
//	// audit outermost, so refusals are audited too; cheap rejections first
//	perRoute := paved.Chain(trail.Middleware, limits.Middleware, az.Middleware, breaker.Middleware)
//	mux.Handle("GET /instances/{id}", perRoute(getInstance))
//	handler := paved.Chain(tracing.Middleware, tracing.AccessLog)(paved.ProblemMux(mux))
//
// Package platform builds the same from an OpenAPI document: an
// x-platform extension per operation says which features apply, and
// platform.Load compiles them all at start-up.
//
// On the client side, retry wraps breaker wraps the base transport; an
// open breaker ends the retries at once (retry.WithWaitForHalfOpen waits
// for the probe instead):
//
//	r, err := retry.New("inventory")
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
