// Package redisidempotency keeps the records of package idempotency in
// Redis, so that every instance of a service shares them: a request with
// an Idempotency-Key runs once whichever instance it and its retries
// reach, and a retry on another instance gets the stored response. The
// in-memory store of package idempotency protects one instance only: a
// load balancer that sends the retry elsewhere runs it again.
//
// A Store implements idempotency.Store; give it to the middleware:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisidempotency.New(rdb)
//	...
//	launches, err := idempotency.New("launches", idempotency.WithStore(store), idempotency.WithRequired(true))
//	...
//	mux.Handle("POST /instances", launches.Middleware(launch))
//
// # One round trip, atomic
//
// Each call is one round trip and atomic in Redis: Begin, Complete and
// Release are each a Lua script (run by EVALSHA, and by EVAL when Redis
// answers NOSCRIPT, as after a restart or a failover: the first call of
// a script there takes two), Get is a GET.
//
//   - Begin is SET NX PX of the in-progress record, and when the key is
//     taken, a GET of the record that holds it, in one script: a record
//     that expires between the two cannot be missed (Redis does not
//     expire keys while a script runs), and of any number of concurrent
//     Begins on one key, from any number of instances, exactly one claims
//     it.
//   - Complete compares the token of the stored record with the caller's,
//     then SETs the done record with its own expiry (PX), which replaces
//     the in-progress record's lock timeout.
//   - Release compares the token, and that the record is still in
//     progress, then DELs it: a stored response is never deleted.
//
// A request with a new key thus costs the store two round trips, Begin
// and Complete, and a replay one, Begin (which returns the stored
// response). Each script touches one key, so in Redis Cluster no call
// crosses slots.
//
// go-redis retries a command whose connection failed (MaxRetries), which
// may run a script twice. Both runs are safe: a Begin that finds the key
// held by its own token, in progress, has claimed it, and a Complete that
// finds its own done record stores it again. A retried Release finds the
// key gone and returns idempotency.ErrNotHeld, which the middleware
// ignores.
//
// # Keys and stored form
//
// A record's key is the prefix followed by the key the middleware gives,
// already scoped (principal or client, method, route) and hashed: for
// example paved:idempotency:<hash>. The prefix is DefaultPrefix,
// "paved:idempotency:", unless WithPrefix says otherwise; give each
// service its own, or share one so that services share keys.
//
// The value is binary and versioned: a version byte, the token, the
// state, the fingerprint, and once done the status, the headers (each
// value) and the body, each with its length as a varint. A record costs
// the bytes of its fields and one to three more per length, whatever the
// bytes of the body: no escaping, no base64. A value under the prefix
// that this package did not write (another program's, a later version's,
// one cut short) is an error from Begin and Get, and is never overwritten
// or deleted: Complete and Release find it not held by the token.
//
// # When Redis cannot answer
//
// Each call is bounded by WithTimeout (DefaultTimeout, 1 s). Every error
// is the package's: its message starts "redisidempotency: " and the
// method, and it wraps the error of go-redis (errors.Is and errors.As
// reach it). A call that Redis does not answer, answers with an error, or
// that cannot connect, declares HTTP status 503. A call whose caller's
// context ends wraps the context's error instead (504 for a deadline, 499
// for a cancellation, as internal/httpx maps them); a context that is
// already done fails before anything is sent. go-redis notices a
// deadline in the middle of a call but not a cancellation, which it
// notices when the call ends, at the store's timeout at the latest.
//
// The middleware fails closed: by default a store error answers the
// request 503 Service Unavailable (idempotency.ErrUnavailable) without
// running it, since whether the key was in use is unknown and running a
// request twice is the harm the package prevents; WithFailOpen runs it
// unprotected instead. So while Redis is down or hangs, requests that
// carry a key are refused, each within the timeout (a Redis that refuses
// connections, as soon as go-redis gives up dialing it). The middleware calls Complete and
// Release with a context that the client's disconnect does not cancel,
// so a response is stored even when the client has gone. When Complete
// fails after the request ran, the in-progress record stays until its
// lock timeout, during which retries get 409 Conflict.
//
// The client must honour context deadlines (ContextTimeoutEnabled in
// go-redis's options): without it go-redis reads with its own read
// timeout (3 s by default) whatever the deadline, and New refuses such a
// *redis.Client, *redis.ClusterClient or *redis.Ring. go-redis's read
// timeout still applies within the store's: a WithTimeout longer than
// it bounds nothing more.
//
// # Observability
//
// The store records nothing itself: the middleware counts each decision
// (paved.idempotency.requests, with result new, replayed, conflict,
// mismatch or released) and logs store errors. Errors never hold a key.
//
// # What was verified
//
// The tests run against a real redis-server 7.0.15 on loopback, one per
// test: the store passes the idempotencytest suite (claims, replays,
// tokens, expiries of the lock and of the record by Redis's clock, keys
// of any bytes, 100 concurrent Begins on one key, done contexts, copies);
// key names under each prefix (KEYS) and their expiries (PTTL) after
// Begin and after Complete; a retried Begin and Complete; foreign values
// (JSON, another version, cut short, bytes after, empty, a hash) on every
// call; SCRIPT FLUSH before each script; Redis stopped while 8 goroutines
// call the store (each call fails within 5 s with the package's 503
// error, never hangs or panics, and calls succeed again once Redis is
// restarted, empty and without the scripts); a server that accepts
// connections and never answers (each call fails at the timeout, saying
// so); a caller's deadline and cancellation during a call (504, 499).
// The decoder is fuzzed (FuzzDecode): any bytes give a record or an
// error, and a record survives encoding and decoding again. Redis
// Cluster and Valkey are designed for but not tested here.
//
// # Performance
//
// Measured on a 2-core machine shared with other work (load average 6),
// against redis-server 7.0 on loopback, the medians of five runs of
//
//	go test -c -o ri.test ./idempotency/redisidempotency/ && ./ri.test -test.run XXX -test.bench Store -test.benchmem -test.count 5
//
//	                                 serial               16 goroutines
//	raw (PING)                    46 µs   6 allocs      25 µs   6 allocs
//	begin (a new key)             65 µs  20 allocs      39 µs  21 allocs   1.4x, 1.5x PING
//	begin+complete (a new key)   128 µs  47 allocs      92 µs  47 allocs   2.8x, 3.7x PING
//	replay (Begin on a done key)  64 µs  27 allocs      43 µs  27 allocs   1.4x, 1.7x PING
//	get                           35 µs  19 allocs      38 µs  19 allocs
//
// A request with a new key costs about two round trips and a little
// script work in Redis, as expected; a retry costs one. The figures of a
// run varied by half with the machine's load (PING alone from 35 to
// 58 µs serially), so take the ratios, not the times.
package redisidempotency
