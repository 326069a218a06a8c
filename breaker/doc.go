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
//     re-raised (Middleware ignores http.ErrAbortHandler, below).
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
// On the client side, put retries outside the breaker
// (retry(breaker(base))), so an open breaker ends the retries at once.
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
// Every breaker built by New, and every Registry built WithName, also
// lists itself on the status page (package status): state, failure rate
// in the window, calls and failures, seconds until half-open (Status,
// RegistryStatus). The page reads the breaker's atomics when it is asked,
// never on a call's path, and runs no callback.
//
// # Shared state across instances
//
// WithSharedState(store) makes the breakers of several processes share
// their state through a SharedStore, such as a Redis store from package
// breaker/redisbreaker: failures seen by one instance open the breaker
// in all of them, half-open probes and the closing are seen everywhere,
// and a Registry shares each key's breaker under its key.
//
//	store, err := redisbreaker.NewStore(redisClient) // built with ContextTimeoutEnabled
//	...
//	b, err := breaker.New("payments",
//		breaker.WithSharedState(store),
//		breaker.WithConsecutiveFailures(5))
//
// It runs gobreaker's DistributedCircuitBreaker on the store: each call
// reads the shared state before it runs (an open breaker then rejects
// without asking the store again until its open time is over), runs
// holding no lock, and records its outcome under the store's lock;
// outcomes finishing while a goroutine of the same process holds it are
// recorded together in its next exchange. The rule must be one the store
// can hold: WithTimeWindow or WithConsecutiveFailures. New and
// NewRegistry reject the last-N-calls window (the default, counted per
// process) and WithOpenDurationGrowth (the shared state has one open
// duration) with an error naming the way out. Slow calls, the
// classifier, fallbacks, dry run, callbacks and the HTTP and gRPC
// adapters work as without shared state; WithHalfOpenProbes bounds the
// probes in flight per process. Processes sharing a name must configure
// it alike; the open time ends at the wall-clock time written by the
// process that tripped it, so clock skew moves it, and a state open
// longer than the open duration plus a minute is replaced as a clock
// gone wrong. A state the store lost (a restart, its TTL) is written
// back from the last one a process knew. A transition learned from the store is
// logged like any other, with shared=true and without the counts.
//
// When the store fails or times out, no call fails because of it: the
// breaker decides with its local state (the last shared state it read),
// logs "breaker shared state unavailable: deciding locally" once at Warn,
// counts the calls in paved.breaker.shared.fallbacks (reason store_error
// or skipped), and skips the store for WithSharedStateRetry (default 1s)
// before one call tries it again; "breaker shared state restored" is
// logged when it answers. So a dead store costs about one call per
// retry period its timeout, and the others nothing.
//
// Shared state costs round trips: with the Redis store, a lone call on
// the closed path makes three (a read, then lock-and-read and
// write-and-unlock scripts; five with a store without those combined
// methods), about 6x a PING on a local Redis and 107 allocations for
// gobreaker's JSON state; concurrent calls of one process share the
// recording round trips (3x a PING with 2 callers, under 2x with 16).
// Recording is serialized across the fleet by the lock, so a breaker name
// records a few thousand exchanges per second on a local Redis, fewer
// across a network. It is worth it for calls that are few and costly
// next to a few Redis round trips, or for fleets where every instance
// learning the same failures itself is what hurts; frequent, cheap calls
// are better served by local breakers. See package redisbreaker for the
// figures and what was verified.
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
// Shared state uses gobreaker's DistributedCircuitBreaker behind an
// adapter that takes the store's lock before reading the state (gobreaker
// reads first and lost about half the outcomes under contention), runs the
// call with no lock held, never sleeps between lock attempts, writes the
// state back after the store lost it, and replaces a stored state gobreaker
// would panic on.
//
// # Cost
//
// Measured on a 2-core machine (AMD EPYC) shared with other jobs (load
// average 6 to 13), where wall-clock ns/op swing by 2x between runs. The
// figures are CPU time per operation, the process's user+sys time of
// go test -run XXX -bench B -benchtime Nx ./breaker/ less that of a 1x
// run, divided by N, the best of three (GC work of the allocating
// variants included):
//
//	                                        CPU ns/op  allocs/op
//	BenchmarkDo/raw (gobreaker Execute)          185          0
//	BenchmarkDo/paved (b.Do)                     245          0
//	BenchmarkMiddleware/bare (handler alone)      ~5          0
//	BenchmarkMiddleware/raw (hand-rolled)        295          2
//	BenchmarkMiddleware/paved (Registry)         275          0
//	BenchmarkMiddleware/paved-breaker            315          0
//	BenchmarkMiddlewareRecorder/raw             1960         11
//	BenchmarkMiddlewareRecorder/paved           1880          9 (the recorder's own 9)
//	BenchmarkMiddlewareRecorder/raw-mux         2140         12
//	BenchmarkMiddlewareRecorder/paved-mux       2180         10 (the recorder's and the mux's)
//	BenchmarkTransport/paved                     200          0
//	BenchmarkTransport/paved-slow-threshold      320          0 (a GET: no trace)
//	BenchmarkTransport/paved-slow-threshold-body 1050         5 (576 B: the httptrace.ClientTrace)
//
// raw in BenchmarkMiddleware is a gobreaker TwoStepCircuitBreaker around
// the handler with a status-recording wrapper, as one would write it by
// hand; it allocates that wrapper and Allow's done func. Middleware
// allocates nothing: its wrapper comes from a pool (or is the one an
// outer paved middleware installed), so its overhead over the bare
// handler is 0.93x to 1.07x the hand-rolled one's, and serving into a
// fresh httptest.ResponseRecorder costs what the recorder costs, plus
// that overhead. Most of either is gobreaker's two clock reads and its
// mutex. b.Do adds the last-N-calls window, metrics and state-change
// delivery to gobreaker's Execute.
package breaker
