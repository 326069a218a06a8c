// Package redisbreaker keeps circuit breaker state in Redis, so that the
// instances of a service share their breakers: when a dependency fails
// for one instance and its breaker opens, every instance's breaker of the
// same name rejects calls to it, without each having to see the failures
// itself.
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "redis:6379",
//		ContextTimeoutEnabled: true, // required: lets the store bound each call
//	})
//	store, err := redisbreaker.NewStore(client)
//	...
//	b, err := breaker.New("inventory",
//		breaker.WithSharedState(store),
//		breaker.WithConsecutiveFailures(5))
//
// A Store is a breaker.SharedStore for breaker.WithSharedState, and works
// the same for a Registry (breaker.NewRegistry(breaker.WithSharedState(store),
// ...)): each key's breaker is shared under its key. The client is any
// redis.UniversalClient: *redis.Client, *redis.ClusterClient or
// *redis.Ring.
//
// # What is shared, and how
//
// The breaker package runs gobreaker's DistributedCircuitBreaker on the
// Store: the state is gobreaker's SharedState (state, generation, counts,
// rolling buckets, open expiry) as JSON. A call through a shared breaker
//   - reads the state (one GET) and decides: an open breaker rejects; an
//     open breaker that learned its open time rejects without asking Redis
//     again until that time is over;
//   - runs, holding no lock;
//   - records its outcome under the breaker's lock, in two round trips:
//     LockGetData (one script: SET NX PX on the lock, GET of the state),
//     gobreaker's state machine in memory, and SetDataUnlock (one script:
//     if the lock still holds our token, SET the state and DEL the lock;
//     a holder whose lock expired writes nothing, ErrLockLost). Outcomes
//     that finish while another goroutine of the same process holds the
//     lock are queued and applied together in its next exchange, so
//     concurrent calls share those two round trips.
//
// So the rule (WithConsecutiveFailures, WithTimeWindow's rolling buckets)
// counts the calls of all instances, and a trip, a half-open probe's
// success or failure, and the closing are seen by every instance on its
// next call. The breaker package rejects options it cannot share (the
// last-N-calls window, a growing open duration); see
// breaker.WithSharedState.
//
// Things to know:
//   - The open expiry is wall-clock time written by the instance that
//     tripped the breaker: clock skew between instances moves the end of
//     the open time by the skew. A state open for longer than the open
//     duration plus a minute is taken for a clock gone wrong and
//     replaced; so instances sharing a name must configure it alike.
//   - Half-open, each instance lets at most WithHalfOpenProbes calls run
//     at once; gobreaker counts the first outcomes that reach Redis,
//     which decide as they would locally. The fleet may run more probes
//     than one instance would.
//   - Used directly with gobreaker (this Store also implements
//     gobreaker.SharedDataStore and maps its "gobreaker:mutex:" and
//     "gobreaker:state:" names to the same keys), gobreaker v2.4.0's
//     DistributedCircuitBreaker reads the state before it takes the lock,
//     and loses outcomes under concurrency (about half of 400 in this
//     package's contention test). breaker.WithSharedState takes the lock
//     before the read.
//
// # Keys
//
// A breaker named name has two keys, prefix + "{name}:state" and
// prefix + "{name}:lock" (prefix default "paved:breaker:", WithPrefix).
// The braces are a Redis Cluster hash tag: both keys of a breaker are in
// one slot, whatever the name contains. The state expires after
// WithStateTTL (default 24h) without writes, so the state of keys a
// Registry no longer uses goes away; a breaker whose state is gone, or a
// Redis restarted empty, gets the last state an instance knew written
// back on its next call. The lock holds a 128-bit random token, expires
// after WithLockTTL (default 1s) so a holder that dies frees it, and is
// released only by its holder (compare-and-delete).
//
// # Redis slow or down
//
// Every Redis call is bounded by WithTimeout (default 50ms), through its
// context: go-redis honours it only with ContextTimeoutEnabled, which
// NewStore therefore requires of a go-redis client (without it, a Redis
// that stopped answering held calls for go-redis's read timeout, 5s by
// default, in this package's tests). Lock waits at most WithLockWait
// (default 100ms) for a lock another holder has, then returns
// ErrLockTimeout. A breaker whose store fails does not fail
// the call: it decides with its local state (gobreaker's state machine
// holding the last shared state it read), logs one Warn line
// "breaker shared state unavailable: deciding locally", counts the call
// in paved.breaker.shared.fallbacks, and does not ask Redis again for
// breaker.WithSharedStateRetry (default 1s); then one call tries, and the
// others stay local until it is done. So a dead Redis costs one call per
// second at most the timeout, and the others nothing. When Redis answers
// again the breaker logs "breaker shared state restored" and the shared
// state wins over what it counted alone. go-redis logs its own dial
// failures.
//
// # Verified
//
// The tests run against a real redis-server 7.0.15, single node: two
// instances sharing trips, half-open probes and closing; Redis stopped
// and restarted mid-test; Redis paused (CLIENT PAUSE) costing one call
// the timeout; 16 goroutines on two instances losing no
// outcome under -race; lock expiry when a holder dies; the keys' prefix
// and hash tag (SCAN); a holder whose lock expired not overwriting the
// next holder's state. The commands are GET, SET PX, SET NX PX and
// three EVALSHA scripts (go-redis falls back to EVAL on NOSCRIPT) whose
// keys are a breaker's two keys, in one slot, so Redis Cluster, Ring and
// Valkey should work as they are; that is designed for, not tested here.
//
// # Cost, and when shared state is worth it
//
// Measured on this 2-core machine (AMD EPYC, shared with other jobs,
// load average 5 to 7) against a local redis-server, medians of
// go test -run XXX -bench . -benchmem -count 5 ./breaker/redisbreaker/:
//
//	                                      ns/op   round trips  allocs/op
//	BenchmarkExecute/raw (PING)          49,000             1          6
//	BenchmarkExecute/local (no Redis)       220             0          0
//	BenchmarkExecute/paved (closed)     293,000             3        107
//	BenchmarkExecute/raw-parallel        54,000             1          6
//	BenchmarkExecute/paved-parallel     164,000           1.9         70
//	BenchmarkExecute/paved-parallel-16   95,000           1.1         42
//	BenchmarkExecute/paved-redis-down       390             0          0
//
// Wall-clock figures swing by 2x between runs on this machine; the round
// trips and allocations do not. A lone call costs three round trips and
// the state's JSON decoded and encoded a few times (by gobreaker, and for
// the breaker's own view): about 6x a PING.
// Concurrent calls of one process share the two round trips of
// recording: 3x a PING with 2 callers, under 2x with 16, where a call
// costs little more than its read. Recording is serialized by the lock
// across the fleet, so one breaker name records at most one exchange per
// two round trips plus the state machine's work: a few thousand per
// second on a local Redis, fewer across a network, each exchange
// carrying the outcomes queued in its process. When locks wait longer
// than WithLockWait, or Redis calls take longer than WithTimeout, calls
// fall back to local state for the retry time. With Redis down a call
// costs what a local breaker costs plus about 200 ns, and no allocation.
//
// Shared state is worth it when the protected calls are few and costly
// compared with a few Redis round trips (a payment provider, a slow
// partner API), or when instances are many and each would otherwise need
// its own run of failures to learn what another already knows. For
// frequent, cheap calls a local breaker learns within milliseconds and
// costs nothing; keep those local.
package redisbreaker
