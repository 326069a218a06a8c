// Package overload protects a service from load beyond its own capacity.
// Rate limits protect it from one greedy caller and breakers from a
// failing dependency; neither helps when the service itself is saturated:
// latency climbs, queues grow, timeouts and retries multiply the load and
// goodput collapses. This package answers with a cap on concurrency
// (Bulkhead), a concurrency limit discovered from measured latency
// (Limiter), and shedding by criticality (Class), so that the calls a
// service admits finish fast and the important ones keep succeeding.
//
// # Bulkhead
//
// A Bulkhead caps the calls in flight to one resource, so a slow database
// cannot take every goroutine of the service with it:
//
//	db, err := overload.NewBulkhead("reports-db", 16,
//		overload.WithQueue(64), overload.WithMaxWait(100*time.Millisecond))
//	...
//	release, err := db.Acquire(ctx) // or db.Do(ctx, fn)
//	if err != nil {
//		return err // *ShedError: 503 + Retry-After, gRPC UNAVAILABLE
//	}
//	defer release()
//
// Calls over the cap wait in a FIFO queue of WithQueue places (none by
// default) for at most WithMaxWait (by default until their context ends),
// then are shed. A call whose context ends while queued gives its place
// back at once. (*Bulkhead).Middleware caps HTTP requests the same way.
// (*Bulkhead).Transport caps an HTTP client's calls to an upstream, each
// holding its slot until the response body is closed.
// Bulkheads holds one bulkhead per key (a route, a tenant, a host),
// bounded by WithMaxKeys: it forgets only idle bulkheads, and new keys
// share an overflow bulkhead while every held one is busy.
//
// # Adaptive concurrency limit
//
// A Limiter admits calls while fewer than its limit are in flight, and
// finds the limit instead of being told it: it measures each admitted
// call's round-trip time (Ticket.Done) and, once per window (WithWindow,
// 100 ms), compares the window's average RTT with the no-load RTT.
//
//	l, err := overload.NewLimiter("api",
//		overload.WithRouteClass("POST /instances", overload.Critical),
//		overload.WithRouteClass("GET /instances", overload.Sheddable),
//		overload.WithQueue(32), overload.WithMaxWait(50*time.Millisecond))
//	...
//
// Gradient2 (the default, after Netflix's concurrency-limits
// Gradient2Limit, https://github.com/Netflix/concurrency-limits) computes
//
//	gradient = clamp(tolerance × noLoadRTT / windowRTT, 0.5, 1)
//	limit    = limit × gradient                    when gradient < 1 (queueing: cut at once)
//	limit    = limit + 0.2 × sqrt(limit)           when gradient = 1 and the limit is in use (grow gently)
//
// so the limit settles where the service just starts to queue: about
// tolerance × capacity, plus the few calls in hand-over. AIMD
// (WithAlgorithm(AIMD)) is the simple alternative: +1 per window within
// the tolerance, ×0.9 per window beyond it. The limit stays within
// WithLimits (3 to 1000) and does not grow while less than half of it is
// in use, so an idle service does not inflate it.
//
// The no-load RTT is measured, not assumed, as Envoy's adaptive
// concurrency filter does it
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/adaptive_concurrency_filter):
// at start and then every WithMinRTTInterval (one minute, ±15% jitter so
// instances do not measure in step), the limit drops to the minimum for
// 50 calls (or ten windows), whose average RTT becomes the new floor; the
// limit then resumes where it was. Without it the floor would drift up
// with the load and the limit with it. The price is a brief dip: for
// about 50 round trips only the minimum number of calls is admitted. Set
// WithMinRTTInterval(0) to measure only at start.
//
// Calls over the limit wait in a short LIFO queue (WithQueue,
// WithMaxWait): under overload the freshest call is the one whose client
// is still waiting, so the newest is served first, and a full queue sheds
// its oldest call of the lowest class to make room for a new one
// (Google SRE book, "Handling Overload" and "Addressing Cascading
// Failures", https://sre.google/sre-book/handling-overload/).
//
// # Priority
//
// Every call has a Class: Critical, Default or Sheddable. Under pressure
// the lowest class is shed first: a Sheddable call is admitted only while
// fewer than 80% of the limit are in flight, a Default one below 95%, a
// Critical one up to the whole limit (WithClassShares), and queued
// Critical calls are served before the others. Middleware takes the class
// from WithClassifier, else the route (WithRouteClass, with
// http.ServeMux patterns: r.Pattern inside a mux, matched by the limiter
// outside one), else a header (WithClassHeader; trust it only from your
// own callers and strip it at the edge), else Default.
// WithTenantShare caps each tenant's requests in flight to a share of the
// limit, so one tenant's burst cannot take it all.
//
// # Client-side adaptive throttling
//
// A Throttle is client-side adaptive throttling, as the Google SRE book
// describes it ("Handling Overload"). Over a sliding window (two minutes
// by default, WithThrottleWindow; it slides in steps of a twentieth) it
// counts the requests the client attempted and the accepts, the requests
// the backend did not refuse for overload, and rejects each new request
// locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// K is 2 by default (WithK): the backend may refuse up to half of the
// requests before the client starts rejecting. Locally rejected requests
// count as requests, so rejection grows while the backend keeps refusing,
// and the few requests still sent find out when it recovers.
//
// A sent request counts once its outcome is known (Accept or Refuse, which
// Transport and the gRPC interceptors call): requests still in flight count
// neither way, so a burst of slow calls from a cold start is not throttled
// before the backend refused anything.
//
//	th, err := overload.NewThrottle("inventory")
//	if err != nil { ... }
//	client := &http.Client{Transport: th.Transport(nil)}
//
// Transport counts 429 and 503 as refusals (IsOverloadStatus) and every
// other answer as an accept: client errors, 500, and 502 and 504, which
// come from a proxy that could not reach or hear from the backend: that is
// a breaker's business, not a refusal. Transport errors count as accepts
// for the same reason. A throttled request fails with an error unwrapping
// to ErrThrottled (HTTP 503, gRPC UNAVAILABLE, no retry delay) without
// touching the network; its body is closed. A nil base is paved's default
// transport. It composes with a breaker: the breaker handles a failing
// backend, the throttle an overloaded one.
//
// overloadgrpc.NewClient gives the same throttling to gRPC calls, counting
// RESOURCE_EXHAUSTED and UNAVAILABLE as refusals; a Throttle may be shared
// by a Transport and the interceptors reaching one backend.
//
// Allow, Accept and Refuse are the throttle's API for other protocols.
// WithRandom injects the random draws (tests make rejections
// deterministic); the window follows time.Now, so testing/synctest drives
// it.
//
// Observability: paved.overload.throttle.decisions (counter,
// paved.overload.name, decision = sent | throttled); Probability and Counts
// report the current state.
//
// Performance: Allow followed by Accept costs 158 ns/op and 0 allocs/op,
// measured on this 2-core machine (a buffered-channel semaphore: 38 ns/op):
//
//	go test -run '^$' -bench BenchmarkThrottleAllow -benchmem -count 3 ./overload/ (medians)
//
// # Composition
//
// Overload middleware goes outside ratelimit, authz and
// breaker.Middleware, inside tracing:
//
//	tracing -> overload -> ratelimit -> authz -> breaker -> handler
//
// so a shed request costs the least work, is traced, and never counts as
// a failure of the route's breaker. Shed responses carry Retry-After,
// which retry honours. Use a Bulkhead around one dependency (a database,
// a slow upstream) and a Limiter around the service's own handlers.
//
// # Errors
//
// Shed calls fail with a *ShedError{Name, Class, RetryAfter} that unwraps
// to ErrShed: HTTP 503 Service Unavailable with Retry-After
// (WithRetryAfter, one second by default) as a problem+json body through
// the error handler (WithErrorHandler, default paved.WriteError), and
// gRPC UNAVAILABLE with RetryInfo. A call whose context ends while queued
// gets the context's error. The *ShedError values are shared between
// calls and must not be modified. Constructors validate every option and
// return all errors at once, prefixed "overload: ".
//
// # Defaults
//
// NewBulkhead: no queue, no max wait (the context bounds a wait), retry
// after one second. NewLimiter: Gradient2, limits 3 to 1000, initial
// limit 20, tolerance 1.05, window 100 ms, no-load RTT measured every
// minute ±15%, class shares 0.8 (sheddable) and 0.95 (default), no queue.
//
// # Observability
//
// paved.overload.decisions (counter; paved.overload.name, class =
// critical | default | sheddable, decision = admitted | queued | shed)
// and paved.overload.limit (gauge; paved.overload.name), from
// WithMeterProvider (the global one by default); a queued call counts as
// queued and then as admitted or shed. A shed call adds the span event
// overload.shed and logs at Debug. WithDryRun admits everything but counts
// and logs (Info, at most once a second, with the number suppressed) what
// would have been shed; WithFilter exempts requests such as health
// checks. Limit, InFlight, Queued and MinRTT report the current state.
//
// # Status page
//
// Every Limiter, Bulkhead, Bulkheads and named Throttle is a row of the
// status page (package status) under its name until it is no longer
// reachable. A Limiter's, Bulkhead's or Bulkheads' row (see Report) shows
// the limit now, the calls in flight and queued, the calls shed per
// class, and charts the calls shed per minute; a Bulkheads' row sums its
// bulkheads, with the keys held and the overflow bulkhead's calls, and
// its bulkheads have no rows of their own. A Throttle's row (see
// ThrottleReport) charts the probability of rejecting the next request
// locally. A row warns while it sheds or throttles. The page reads the
// atomics the accessors read; the only cost on a call's path is one atomic
// add per call shed or throttled.
//
// # Performance
//
// Admitting and releasing a call below the limit is one compare-and-swap
// and one add on the in-flight count, with no lock and no allocation; a
// Limiter adds two monotonic clock readings and the RTT sample. Measured
// on this 2-core machine (AMD EPYC), medians of 5:
//
//	go test -run XXX -bench Acquire -benchmem -count 5 ./overload/
//
//	BenchmarkAcquire/raw                 31 ns/op  0 allocs  buffered-channel semaphore
//	BenchmarkAcquire/bulkhead            11 ns/op  0 allocs  0.35x
//	BenchmarkAcquire/limiter             76 ns/op  0 allocs  2.5x (two clock readings: 34 ns each here)
//	BenchmarkAcquire/raw/parallel        50 ns/op  0 allocs
//	BenchmarkAcquire/bulkhead/parallel   27 ns/op  0 allocs  0.54x
//	BenchmarkAcquire/limiter/parallel   106 ns/op  0 allocs  2.1x (52 ns in a quieter run)
//
// In virtual time (testing/synctest), against a simulated server of fixed
// capacity (latency = 50 ms × max(1, in-flight / capacity)) driven by 300
// closed-loop callers, Gradient2 settles at 56, 28 and 112 for capacities
// 50, 25 and 100 (AIMD: 54, 27, 106), re-adapting within seconds when the
// capacity halves or doubles. Offered 3× its capacity (20% critical, 30%
// default, 50% sheddable), the limiter served 100% of critical calls,
// 45% of default and under 0.1% of sheddable ones, at 100% of capacity.
package overload
