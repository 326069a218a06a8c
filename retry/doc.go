// Package retry runs failed work again without turning an outage into a
// retry storm: capped exponential backoff with jitter, never past the
// caller's deadline, honouring the server's Retry-After, inside a retry
// budget, and hedged requests for tail latency.
//
//	r, err := retry.New("inventory")
//	...
//	err = r.Do(ctx, func(ctx context.Context) error { return callInventory(ctx) })
//	client := &http.Client{Transport: r.Transport(nil)} // idempotent requests only
//
// The name labels the Retrier's metrics and logs. For zero configuration,
// retry.Transport(base) retries with the defaults below.
//
// # Defaults
//
// 3 attempts; full-jitter backoff from 100ms up to 10s; server hints
// (Retry-After, grpc-retry-pushback-ms) waited out up to 10s, and a
// longer hint ends the retries at once; a retry budget of 20% of the last
// ten seconds' requests plus 10 retries per second; no per-attempt
// timeout. Errors that declare a 4xx status (other than 408 and 429) are
// not retried, nor are Permanent ones, nor a circuit breaker's rejection,
// nor anything once the caller's context has ended. A failure comes back
// as an *Error wrapping the last attempt's error, saying how many attempts
// were made and why they stopped.
//
// # Composing with breaker
//
// Put retry outside and the breaker inside: r.Transport(b.Transport(nil)),
// or r.Do around b.Do. An open breaker (or a half-open one whose probes
// are all out) ends the retries at once, whatever its open time: the
// caller gets the breaker's error (errors.Is breaker.ErrOpen), which
// carries the time until half-open, so a server relaying it answers 503
// with Retry-After instead of holding the request for the open time.
// WithWaitForHalfOpen(true) waits for the breaker's probe instead, within
// WithMaxServerDelay.
//
// # HTTP
//
// Transport retries only idempotent methods or requests with an
// Idempotency-Key (WithIdempotencyKey adds one to POST and PATCH), only
// when the body can be replayed (GetBody), on transport errors, 502, 503,
// 504 and 429 with Retry-After. Discarded responses are drained and closed
// so connections are reused; the last response is returned as is, even a
// 503. Code that needs the failure as an error, such as a cache loader
// whose stale-if-error only covers failed loads, passes the result through
// CheckResponse, which turns a 5xx or 429 into a *StatusError.
// WithAttemptHeader sends the attempt number.
//
// # Hedging
//
// WithHedging(d) starts another attempt when the ones in flight have not
// answered after d (or after the observed 95th percentile latency when d
// is 0), takes the first good answer and cancels the rest, as gRPC's
// hedging policy (A6) does. A failed attempt's verdict counts at once: an
// error not worth retrying, or a server hint saying "stop" or asking for
// more than WithMaxServerDelay, cancels the other attempts and ends the
// call with that error; a retryable error starts the next attempt at once,
// or after the server's hint when it gave one. Hedges count against the
// budget. Use it for idempotent reads only.
//
// # Observability
//
// Attempts are counted in paved.retry.attempts (outcome success, retry,
// failure) and refusals in paved.retry.budget.exhausted, labelled with
// the Retrier's name; each retry adds a retry.attempt event to the span in
// the caller's context (retry starts no spans, so it takes no
// TracerProvider). Giving up is logged at Debug (WithLogger).
//
// # Status page
//
// Every Retrier is a row of the status page (package status) under its
// name until it is no longer reachable: its budget's retries available
// now, which the row charts, the requests and retries of the budget's
// ten-second window, and the retries it refused (see Report). The row
// warns while the budget is exhausted. The page reads the budget under
// the lock the retry path takes (a first attempt takes none); the only
// cost on a call's path is one atomic add per refused retry.
//
// # Cost
//
// Measured on a 2-core machine (AMD EPYC) with
// go test -run XXX -bench . -benchmem ./retry/:
//
//	BenchmarkDo/raw                 1.3 ns/op   0 B/op  0 allocs/op  calling the function
//	BenchmarkDo/paved              17.9 ns/op   0 B/op  0 allocs/op
//	BenchmarkDo/raw-parallel        0.6 ns/op   0 B/op  0 allocs/op
//	BenchmarkDo/paved-parallel     13.6 ns/op   0 B/op  0 allocs/op
//	BenchmarkPipeline/raw           140 ns/op   0 B/op  0 allocs/op  gobreaker Execute
//	BenchmarkPipeline/paved         169 ns/op   0 B/op  0 allocs/op  r.Do around b.Do, 1.20x
//
// A first-try success costs about 17ns and no allocation: the budget
// counts it without reading the clock (time.Now costs 47ns on that
// machine) on one of eight counters with their own cache lines, and the
// retry metric records it. Transport's first-try success allocates nothing
// either (BenchmarkTransport).
package retry
