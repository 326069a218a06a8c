// Package cache is cache-aside done right for a service under load: a
// generic in-process cache that never stampedes its backend, and an HTTP
// response cache for a service's own GET handlers.
//
//	users, err := cache.New[int, User]("users", cache.WithStaleWhileRevalidate(10*time.Second))
//	...
//	defer users.Close()
//	u, err := users.Get(ctx, id, func(ctx context.Context, id int) (User, error) {
//		return db.User(ctx, id) // runs once per key however many callers miss it
//	})
//
// # Coalescing
//
// Concurrent Gets that miss a key share one load. The load runs in its
// own goroutine with a context that carries the first caller's values
// (trace span, correlation id) but not its cancellation, bounded by
// WithLoadTimeout (30s): a caller whose context ends gets ctx.Err() at
// once, and the load goes on for the others. When the timeout passes, the
// waiters get an error wrapping context.DeadlineExceeded even if the
// loader never returns. A loader that panics fails the load for every
// waiter with a *PanicError (logged with its stack); the process and the
// key carry on. Set, Delete and Purge supersede a running load: its result
// still reaches the Gets waiting for it, but is not stored, and later Gets
// load again, so a value read before an invalidation is never served
// after it.
//
// # Freshness
//
// A value is fresh for WithTTL (1 minute), shortened by up to WithJitter
// (10%) so that values loaded together expire apart. A loader can set its
// value's TTL with SetTTL. Then:
//
//   - WithStaleWhileRevalidate(d): for d after expiry a Get returns the
//     stale value at once, and the first such Get starts one background
//     refresh of the key.
//   - WithEarlyRefresh(beta): XFetch. A Get of a fresh value starts a
//     background refresh with probability exp(-remaining/(beta*loadTime)),
//     rising as expiry nears, so a hot key is refreshed before it expires
//     and its callers never wait. Most hits decide without a random draw.
//   - WithStaleIfError(d): for d after expiry, a failed load returns the
//     stale value instead of the error.
//   - WithNegativeCache(ttl, match): errors matching (ErrNotFound by
//     default) are cached for their own ttl.
//
// # Bounds
//
// The cache holds at most WithMaxKeys (10,000) entries, and with
// WithMaxCost at most that total cost, in an LRU list (entries carry their
// own fresh and stale deadlines, and an expired value must stay around to
// be served stale). A hit finds its entry through a table read without a
// lock, and moves it to the front of the list only once a quarter of the
// capacity has been stored or moved ahead of it, so hot keys are served
// without the lock and eviction is least recently used at the grain of a
// quarter of the cache (exactly so below 8 entries). WithOnEvict callbacks
// run after the locks are released. On more than 2 CPUs a large cache is
// split into shards, each with its own lock, table and list; on 2 CPUs
// sharding measurably did not help (below) and the cache keeps one.
//
// A SecondLevel (Redis, in the planned package cache/rediscache) can sit
// behind the cache, shared by a service's instances.
//
// # HTTP responses
//
// ResponseCache.Middleware caches the GET and HEAD responses of the
// handler it wraps, by the rules of RFC 9111 that matter for an API:
//
//   - The key is the method-independent target: host, path and query,
//     plus the request's values of the fields the response names in Vary.
//     HEAD is answered from the GET response, and a HEAD miss loads GET.
//   - A response is stored for its s-maxage, else max-age, else Expires
//     minus Date, less its own Age; a response stating none is stored for
//     WithTTL when that option is given, and otherwise not at all.
//     stale-while-revalidate and stale-if-error in the response override
//     the options; must-revalidate (or proxy-revalidate) turns both off.
//   - Never stored: no-store, no-cache and private responses, responses
//     with Set-Cookie, Vary: *, statuses other than 200, 203, 204, 300,
//     301, 308, 404, 405, 410, 414 and 501, bodies over WithMaxBodyBytes
//     (1 MiB), and responses to requests with Authorization unless public,
//     s-maxage or must-revalidate allow it.
//   - Request Cache-Control: no-cache (or Pragma: no-cache) skips the
//     stored response, max-age=N skips one older than N seconds, and
//     no-store bypasses the cache. The new response is stored as usual.
//   - Served responses carry Age. If-None-Match that matches the ETag
//     (the handler's, or a strong one computed from the body, WithETag) is
//     answered 304 Not Modified, by the cache: conditional fields never
//     reach the handler.
//   - Concurrent misses share one handler call. Its response goes to the
//     others only if it may be stored (by the rules above): a response
//     with Set-Cookie, or private, is sent to the request that asked for
//     it, and the others call the handler themselves.
//
// The handler runs in the load's goroutine and writes to a buffer, so
// streaming responses (server-sent events, Flush) do not belong behind
// the cache, and its request context is detached from the client. Mark
// per-user responses private (or Vary on the credential): a response to a
// cookie-authenticated request is stored like any other.
//
// # Observability
//
// paved.cache.requests counts every Get by result (hit, miss, stale,
// coalesced, negative, error) and paved.cache.load.duration times every
// load, both with the paved.cache.name attribute (the name given to New); Stats keeps
// similar counts in process. Serving a stale value adds a
// cache.stale_served event to the span in the caller's context.
//
// # Cost
//
// Measured on a 2-core machine (AMD EPYC, shared with other work) with
// go test -run XXX -bench . -benchmem ./cache/:
//
//	BenchmarkGet/raw                        35.7 ns/op     0 B/op   0 allocs/op  golang-lru Cache.Get hit
//	BenchmarkGet/paved                      82.3 ns/op     0 B/op   0 allocs/op  2.3x
//	BenchmarkGet/raw/parallel               43.7 ns/op     0 B/op   0 allocs/op
//	BenchmarkGet/paved/parallel             88.3 ns/op     0 B/op   0 allocs/op  2.0x
//	BenchmarkGet/paved/parallel-8-shards    76.3 ns/op     0 B/op   0 allocs/op
//	BenchmarkGet/time.Now                   50.5 ns/op     0 B/op   0 allocs/op  for comparison
//	BenchmarkGetMiss/raw                     184 ns/op    80 B/op   1 allocs/op  Get, load, Add
//	BenchmarkGetMiss/paved                  4704 ns/op  1361 B/op  16 allocs/op  26x
//	BenchmarkMiddleware/raw                  296 ns/op   128 B/op   3 allocs/op  a small JSON handler
//	BenchmarkMiddleware/paved                215 ns/op     0 B/op   0 allocs/op  its cached response, 0.73x
//	BenchmarkMiddleware/paved/not-modified   240 ns/op     0 B/op   0 allocs/op  304 for If-None-Match
//
// A hit misses the 1.5x goal because of the clock. time.Now costs 50 ns
// on this virtual machine, 1.4x a whole golang-lru hit; the cache reads
// only the monotonic clock (time.Since from a base taken at New), about
// 26 ns. The rest of a hit (the lock, the LRU, the deadline check, the
// counters) is about 20 ns more than raw. The cache reads the clock once
// per Get and keeps no clock goroutine: a coarse clock would be faster but
// make every freshness decision approximate. On these 2 CPUs neither
// cache scales with RunParallel, and 8 shards came out within the noise
// of one over repeated runs, so the cache keeps one shard on 2 CPUs. A
// miss costs a goroutine, a detached context with its timer and timeout
// hook, the entry and its LRU element: 16 allocations, small beside the
// load it coalesces. A cached response is sent without allocating (beyond
// what the ResponseWriter does with the header fields), cheaper than
// calling even a small JSON handler.
package cache
