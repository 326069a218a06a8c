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
// Measured on a 2-core virtual machine (AMD EPYC) shared with other builds
// and benchmarks, so single figures are noisy: raw and paved ran side by
// side in one run, and each figure is the median of three, from
// go test -run XXX -bench . -benchmem -count=3 ./cache/:
//
//	BenchmarkGet/raw                        48.3 ns/op     0 B/op   0 allocs/op  golang-lru Cache.Get hit
//	BenchmarkGet/paved                      54.8 ns/op     0 B/op   0 allocs/op  1.13x
//	BenchmarkGet/raw/parallel               62.5 ns/op     0 B/op   0 allocs/op
//	BenchmarkGet/paved/parallel             31.1 ns/op     0 B/op   0 allocs/op  0.50x
//	BenchmarkGet/paved/parallel-8-shards    34.9 ns/op     0 B/op   0 allocs/op
//	BenchmarkGet/time.Now                   62.0 ns/op     0 B/op   0 allocs/op  the clock read a hit does not make
//	BenchmarkGetMiss/raw                     771 ns/op   176 B/op   3 allocs/op  golang-lru Get, singleflight Do, Add
//	BenchmarkGetMiss/paved                  3479 ns/op   675 B/op   4 allocs/op  4.5x
//	BenchmarkMiddleware/raw                  905 ns/op   128 B/op   3 allocs/op  a small JSON handler
//	BenchmarkMiddleware/paved                431 ns/op     0 B/op   0 allocs/op  its cached response, 0.48x
//	BenchmarkMiddleware/paved/not-modified   480 ns/op     0 B/op   0 allocs/op  304 for If-None-Match
//
// Against other caches, in one run of a benchmark module outside this
// repository (string keys; a miss makes its key with strconv.Itoa), a hit
// took 51 ns in paved, 56 ns in golang-lru, 115 ns in otter v2 with a TTL
// and 128 ns in sturdyc, and from both CPUs 58, 65, 50 and 110 ns (the
// parallel figures vary by half from run to run on this machine: in other
// runs paved came out ahead of otter); a miss with a trivial loader took
// 3.4 µs and 4 allocations in paved, 0.8 µs and 3 in golang-lru with
// singleflight, 2.1 µs and 5 in sturdyc, 2.3 µs and 6 in otter.
//
// A hit reads no clock: time.Now costs about 60 ns here, more than a whole
// golang-lru hit. Freshness on the hit path is judged by a process-wide
// coarse clock instead, read with one atomic load. Its resolution is one
// millisecond: while a Cache is open and Gets read the clock, a goroutine
// stores the monotonic time every millisecond; it parks after a
// millisecond without reads, and stops with the last Cache's Close. Every
// 1024 hits on a counter stripe a hit catches the clock up with the exact
// time, so a ticker the scheduler runs late (every CPU busy) does not hold
// it back while the cache is in use. A value, or a stale-while-revalidate
// window, can therefore last up to about a millisecond past its deadline,
// and never ends before it: deadlines are computed from the exact clock
// when a value is stored, and loads, stale-if-error, Age and all of the
// ResponseCache's HTTP freshness read the exact clock. Inside a
// testing/synctest bubble, where time is fake (and has no monotonic
// reading), a Cache reads the exact clock on every Get.
//
// A hit takes no lock either: it finds its entry through a table read
// without locking, leaves a recently used entry where it is in the LRU
// (see Bounds), and counts itself on one of 8 counter stripes picked by
// its key's hash, so hits scale across CPUs where golang-lru's lock
// serializes them. Of what remains, the paved.cache.requests counter is
// about a third. On these 2 CPUs 8 shards came out within the noise of
// one over repeated runs, so the cache keeps one shard on 2 CPUs.
//
// A miss costs a goroutine and 4 allocations: the flight, which is also
// the loader's context (the caller's values, its own deadline and
// cancellation, so no detached or timed context is made), the channel that
// releases the waiters and ends that context, the goroutine's closure, and
// the entry. Load timeouts are kept by one timer per cache for all its
// running loads. The rest is starting the goroutine and switching to it,
// which a cache that loads in the caller's goroutine does not pay, but
// which lets a caller leave on its own context while the load goes on for
// the others. A cached response is sent without allocating (beyond what
// the ResponseWriter does with the header fields), cheaper than calling
// even a small JSON handler.
package cache
