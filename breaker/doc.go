// Package breaker stops a service from hammering a dependency that is
// failing, and from making its own callers wait for answers that will not
// come: a circuit breaker counts the outcomes of calls, opens when too
// many fail, rejects calls at once while open (HTTP 503 with Retry-After,
// gRPC UNAVAILABLE), and after a while lets a few probe calls through to
// see whether the dependency is back.
//
//	b, err := breaker.New("inventory")
//	...
//	err = b.Do(ctx, func(ctx context.Context) error {
//		return inventory.Reserve(ctx, item)
//	})
//	if errors.Is(err, breaker.ErrOpen) { ... } // rejected, Reserve not called
//
// Call does the same for functions with a result, and CallWithFallback (or
// WithFallback for Do) turns a rejection or failure into a last good value.
//
// # Defaults
//
// Zero configuration is meant to be safe in production:
//   - The breaker opens when at least 50% of the last 20 calls failed, once
//     it has seen at least 10 (WithFailureRate, WithCountWindow). The window
//     can be a rolling time window instead (WithTimeWindow), or the rule n
//     failures in a row (WithConsecutiveFailures).
//   - It stays open 30 s (WithOpenDuration), optionally longer after each
//     failed probe, up to a cap (WithOpenDurationGrowth).
//   - Half-open, it lets 3 probe calls through (WithHalfOpenProbes): 3
//     successes close it, one failure opens it again.
//   - A nil error is a success; the caller's own context.Canceled is
//     ignored (neither success nor failure); every other error, deadlines
//     included, is a failure (WithClassifier changes this). A call slower
//     than WithSlowCallThreshold counts as a failure even if it succeeded;
//     by default there is no threshold. A panic is a failure and is
//     re-raised, except http.ErrAbortHandler, net/http's way to abort a
//     response whose client is gone, which is ignored and re-raised.
//
// # Per key, HTTP and gRPC
//
// A Registry holds one breaker per key (an upstream host, a route, a
// tenant), created on first use and bounded in an LRU without ever
// forgetting a breaker that is open for a key in use (see Registry).
//
// Registry.Middleware protects a server's own handlers, one breaker per
// ServeMux pattern: 5xx responses and panics are failures, 4xx are not,
// and a request whose client went away is ignored, whatever the handler
// answered: its context was canceled (httputil.ReverseProxy then answers
// 502), or the handler panicked with http.ErrAbortHandler (as
// ReverseProxy does when the client hangs up mid-body; the panic goes on
// to net/http once counted). A rejected request gets 503
// application/problem+json with Retry-After, the seconds until the
// breaker half-opens. Registry.Transport protects outgoing calls, one
// breaker per host: transport errors, timeouts, 5xx and 429 are failures,
// a rejected request returns an error without touching the network, and
// WithTransportFallback can answer it instead, for example with the last
// good response. Middleware and Transport are the zero-configuration
// forms. Package breakergrpc has the gRPC interceptors, built by
// breakergrpc.New(registry), which judge gRPC codes as these adapters
// judge the HTTP statuses they map to.
//
// # Slow calls
//
// WithSlowCallThreshold times what the dependency is responsible for. Do
// and Call time fn; Middleware times the handler, reading of the request
// body included. Transport times the call until the response headers
// arrive, less the time the caller took to send the request body: from
// the request headers written to the whole request written
// (net/http/httptrace's WroteHeaders and WroteRequest). So a caller slow
// to upload a large body does not make the dependency look slow, while
// the dependency's own time, getting a connection to it included, counts
// the same for a GET and a POST. A response that arrives while the body
// is still being sent is timed until the headers were written; with a
// base RoundTripper that reports no httptrace events, Transport times the
// whole RoundTrip. The trace costs a request with a body a few
// allocations, only when a threshold is set; a request without one needs
// no trace.
//
// On the client side, put retries outside the breaker
// (retry(breaker(base))), so an open breaker ends the retries at once.
//
// # Trying it out: dry run
//
// WithDryRun computes every decision, logs transitions and records
// metrics as usual, but lets every call through, so thresholds can be
// tuned on production traffic before the breaker rejects anything.
//
// # Observability
//
// Each breaker records paved.breaker.calls by outcome (success, failure,
// slow, ignored, rejected) and paved.breaker.state (closed, open,
// half_open) through the MeterProvider of WithMeterProvider (default: the
// global one), adds a breaker.rejected event to the span already in the
// call's context for each rejection (a breaker starts no spans, so it
// takes no TracerProvider), and logs each transition once at Warn
// (WithLogger, default slog.Default() at the time of logging; never per
// call). WithOnStateChange callbacks run in order, outside every lock.
//
// paved.breaker.state is an observable gauge read at each collection: a
// Registry reports the breakers it holds, so a breaker it forgets stops
// reporting instead of reading its last state forever, and an open
// breaker past its open duration reads half_open, as State does.
//
// # On gobreaker
//
// Breakers are built on github.com/sony/gobreaker/v2: its state machine
// and its rolling time buckets, half-open MaxRequests and
// IsSuccessful/IsExcluded hooks do the counting. What it lacks is added
// around it: the last-N-calls window (gobreaker counts by time or since
// the last state change only), a growing open duration (its Timeout is one
// value), the time left until half-open for Retry-After (it keeps its
// expiry to itself), slow calls, dry-run, state-change callbacks outside
// its mutex, metrics, and per-key registries. gobreaker's own errors never
// reach a caller. It reads the clock twice per call (before and after);
// the breaker adds no clock read on the success path unless a slow-call
// threshold is set, and an open breaker rejects on one clock read without
// taking gobreaker's mutex.
//
// # Cost
//
// Measured on a 2-core machine (AMD EPYC) with
// go test -run XXX -bench . -benchmem ./breaker/...
// (raw is the primitive underneath: gobreaker's Execute on the same
// settings, golang-lru's Cache.Get, a bare handler):
//
//	BenchmarkDo/raw-2                         135.7 ns/op    0 B/op  0 allocs/op
//	BenchmarkDo/paved-2                       149.2 ns/op    0 B/op  0 allocs/op
//	BenchmarkDo/raw-parallel-2                140.1 ns/op    0 B/op  0 allocs/op
//	BenchmarkDo/paved-parallel-2              152.1 ns/op    0 B/op  0 allocs/op
//	BenchmarkDo/paved-slow-threshold-2        224.7 ns/op    0 B/op  0 allocs/op
//	BenchmarkRegistry/raw-2                   35.93 ns/op    0 B/op  0 allocs/op
//	BenchmarkRegistry/paved-2                 31.77 ns/op    0 B/op  0 allocs/op
//	BenchmarkRegistry/raw-parallel-2          38.26 ns/op    0 B/op  0 allocs/op
//	BenchmarkRegistry/paved-parallel-2        30.24 ns/op    0 B/op  0 allocs/op
//	BenchmarkMiddleware/raw-2                 2.621 ns/op    0 B/op  0 allocs/op
//	BenchmarkMiddleware/paved-2               215.5 ns/op   48 B/op  1 allocs/op
//
// so b.Do costs 1.10x gobreaker's Execute serially and 1.09x in parallel,
// with no allocation; most of either is gobreaker's two clock reads and
// its mutex. A Registry hit takes no lock: 0.88x golang-lru's locked
// Cache.Get serially, 0.79x in parallel. Middleware adds one allocation,
// the status-recording ResponseWriter, which stacked paved middleware
// share.
package breaker
