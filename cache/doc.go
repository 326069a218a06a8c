// Package cache is cache-aside done right for a service under load: a
// generic in-process cache that never stampedes its backend, and a shared
// HTTP cache (RFC 9111) for a service's own GET handlers or an upstream
// behind a reverse proxy.
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
// A SecondLevel (Redis, in package cache/rediscache) can sit
// behind the cache, shared by a service's instances.
//
// # HTTP responses
//
// ResponseCache.Middleware is a shared HTTP cache (RFC 9111) in front of
// a handler: a service's own GET handlers, or an httputil.ReverseProxy
// caching an upstream at the edge.
//
//   - The key is the method-independent target: host, path and query,
//     plus the request's values of the fields the response names in Vary
//     (a field absent from the request matches only its absence, not an
//     empty value). HEAD is answered from the GET response, and a HEAD
//     miss loads GET. The Vary names learned per URL are stored as
//     records in the same LRU as the responses and count against
//     WithMaxBytes like them.
//   - Any final status except 206 and 304 is stored when the response
//     has explicit freshness (s-maxage, else max-age, else Expires minus
//     Date, less its age) or is public; 200, 203, 204, 300, 301, 308,
//     404, 405, 410, 414 and 501 also without. A response with no
//     explicit freshness lives for SetTTL (from the handler), else
//     WithTTL, else WithHeuristicFreshness (10% of the time since
//     Last-Modified, capped; off by default), else it is stored stale,
//     only to be revalidated, when it has a validator, and not at all
//     when it has none.
//   - Never stored: no-store and private responses, responses with
//     Set-Cookie, Vary: *, bodies over WithMaxBodyBytes (1 MiB, streamed
//     to the client past the cap), and responses to requests with
//     Authorization unless public, s-maxage or must-revalidate allow it.
//     no-cache responses are stored only to be revalidated before each
//     use.
//   - A stale response with a validator is revalidated: the handler gets
//     If-None-Match (its ETag, strong or weak) and If-Modified-Since (its
//     Last-Modified); a 304 updates the stored fields (all but
//     Content-Length) and freshness, and those of the other Vary variants
//     with the same strong ETag, and the stored body is sent. A 304
//     whose validator names another representation is not used: the
//     request is sent again unconditionally.
//   - stale-while-revalidate and stale-if-error in the response override
//     WithStaleWhileRevalidate and WithStaleIfError, and like a client's
//     max-stale count from when the response became stale (a response
//     that arrives with an Age past its lifetime has used part of them
//     already); must-revalidate,
//     proxy-revalidate, s-maxage (which implies proxy-revalidate here)
//     and no-cache forbid serving stale at all, on errors included.
//   - Targeted fields (RFC 9213): the first of WithTargetedCacheControl's
//     fields (default CDN-Cache-Control) that parses as a Structured Field
//     Dictionary replaces Cache-Control and Expires for this cache. It is
//     forwarded downstream unless WithForwardTargetedCacheControl(false).
//   - Request Cache-Control: no-cache (or Pragma: no-cache, in any case
//     or list, when the request has no Cache-Control) revalidates,
//     max-age=N revalidates a response older than N seconds, min-fresh,
//     max-stale and only-if-cached do what RFC 9111 says, and no-store
//     bypasses the cache.
//   - Unsafe methods (all but GET, HEAD, OPTIONS and TRACE, unknown ones
//     included) pass through; a 2xx or 3xx answer invalidates the target
//     URI and the same-origin URIs in Location and Content-Location,
//     every Vary variant, before the answer is sent, and calls
//     WithInvalidationHook so a fleet can drop them together
//     (InvalidateURI on the other instances).
//   - Range requests, and requests with If-Match, If-Unmodified-Since or
//     If-Range, pass through untouched: ranges are not combined here, a
//     stored 200 never answers a Range request and a 206 is never stored.
//   - Responses from the store carry Age; forwarded ones carry only the
//     handler's. If-None-Match that matches the ETag (the handler's, or a
//     strong one computed from the body, WithETag), or without it
//     If-Modified-Since not before Last-Modified, is answered 304 by the
//     cache: the client's conditional fields never reach the handler.
//   - Stored fields: everything but hop-by-hop fields, those named in
//     Connection, Age and Cache-Status (computed), and the per-request
//     fields X-Correlation-Id, X-Request-Id, Traceparent, Tracestate,
//     Server-Timing and the RateLimit ones (WithUnstoredFields adds
//     more). A stored response therefore never replaces what an outer
//     middleware set for the request at hand. The request that loaded a
//     response gets the handler's fields as written.
//   - Cache-Status (RFC 9211, WithCacheStatus, on by default): "hit" and
//     "ttl" from the store, "fwd" (uri-miss, vary-miss, stale, request,
//     method, bypass) with "fwd-status", "stored", "ttl" and "collapsed"
//     from the handler; "key" with WithCacheStatusKey. Upstream members
//     come first.
//   - Concurrent misses share one handler call, and its answer, 5xx
//     included (a failing backend sees one call, not one per client); an
//     answer that is private, has Set-Cookie or no-store goes to its own
//     request only, and the others call the handler themselves.
//     Interim responses (103 Early Hints) reach the request that started
//     the load as the handler writes them.
//
// The handler runs in the load's goroutine and writes to a buffer up to
// WithMaxBodyBytes, so long streams (server-sent events) do not belong
// behind the cache, and its request context is detached from the client.
// Mark per-user responses private (or Vary on the credential): a response
// to a cookie-authenticated request is stored like any other.
//
// # RFC 9111 conformance
//
// The requirements of RFC 9111 for a shared cache, and the SHOULDs of the
// best proxy caches:
//
//	Section     Requirement                                           Here
//	3           store only final, understood statuses; explicit       yes
//	            freshness or public for non-heuristic ones
//	3.1         no hop-by-hop or Connection-named fields stored       yes, plus per-request fields
//	3.2         update stored fields from a 304 (not Content-Length)  yes
//	3.3, 3.4    store and combine partial content (206)               no: Range passes through
//	3.5         Authorization: only public, s-maxage, must-revalidate yes
//	4.1         Vary: select by the nominated request fields; * never yes (values compared as sent)
//	4.2.1       s-maxage, max-age, Expires - Date, in that order      yes
//	4.2.2       heuristic freshness only without explicit freshness   yes, opt-in
//	4.2.3       Age calculation with apparent and corrected age       yes
//	4.2.4       no stale under must-revalidate, proxy-revalidate,     yes
//	            s-maxage, no-cache
//	4.3.1       validators sent on revalidation                       yes (not the computed ETag)
//	4.3.2       answer If-None-Match / If-Modified-Since from store   yes; If-Match etc. pass through
//	4.3.4       update every stored response a 304 selects            yes (variants by strong ETag)
//	4.3.5       update from HEAD responses                            no: HEAD is answered from GET
//	4.4         invalidate on unsafe methods, Location,               yes
//	            Content-Location
//	5.1         Age: first value of a list; invalid ignored           yes
//	5.2.1       request max-age, max-stale, min-fresh, no-cache,      yes (no-store: not served from
//	            no-store, only-if-cached                              the store either)
//	5.2.2       response directives, qualified no-cache/private as    yes (qualified forms unqualified)
//	            unqualified
//	5.2.2.3     must-understand                                       yes
//	5.3         Expires: strict HTTP-date, invalid = expired          yes
//	5.4         Pragma: no-cache without Cache-Control                yes
//	RFC 9110    1xx forwarded; Date added when missing                yes
//	RFC 9211    Cache-Status                                          yes
//	RFC 9213    targeted fields                                       yes
//
// Deliberately not done: partial content (combining ranges is a
// store of its own for little gain behind an API gateway), and updates
// from HEAD responses (the cache never sends HEAD upstream). A 304 with
// only a weak ETag or Last-Modified updates the response revalidated,
// not its other Vary variants, which revalidate when next used. An
// unsafe request visits every stored key once any response has varied
// (a URL's variants are found by scanning), a cost paid on writes only.
//
// # Observability
//
// paved.cache.requests counts every Get by result (hit, miss, stale,
// coalesced, negative, error) and paved.cache.load.duration times every
// load, both with the paved.cache.name attribute (the name given to New); Stats keeps
// similar counts in process. Serving a stale value adds a
// cache.stale_served event to the span in the caller's context.
//
// # Status page
//
// Every Cache and ResponseCache is a row of the status page (package
// status) under its name, from New until Close (or until it is no longer
// reachable): entries out of the bound, their cost where it is tracked
// (bytes for a ResponseCache, the WithMaxCost cost for a Cache, untracked
// otherwise), the Stats counters, and the hit ratio over the last minute,
// which the row charts (see Report). The row warns while loads fail. The
// page reads the counters Stats reads and each shard's size under its
// lock, held as briefly as Len holds it; nothing is added to a Get.
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
//	BenchmarkGet/paved/parallel             31.1 ns/op     0 B/op   0 allocs/op  0.50x (0.72x and 1.06x in two later runs)
//	BenchmarkGet/paved/parallel-8-shards    34.9 ns/op     0 B/op   0 allocs/op
//	BenchmarkGet/time.Now                   62.0 ns/op     0 B/op   0 allocs/op  the clock read a hit does not make
//	BenchmarkGetMiss/raw                     771 ns/op   176 B/op   3 allocs/op  golang-lru Get, singleflight Do, Add
//	BenchmarkGetMiss/paved                  3479 ns/op   675 B/op   4 allocs/op  4.5x
//	BenchmarkMiddleware/raw                  905 ns/op   128 B/op   3 allocs/op  a small JSON handler
//	BenchmarkMiddleware/paved                431 ns/op     0 B/op   0 allocs/op  its cached response, 0.48x
//	BenchmarkMiddleware/paved/not-modified   480 ns/op     0 B/op   0 allocs/op  304 for If-None-Match
//	BenchmarkMiddlewareRevalidate/raw       1082 ns/op   144 B/op   4 allocs/op  the handler's full answer
//	BenchmarkMiddlewareRevalidate/paved    17245 ns/op  4779 B/op  34 allocs/op  stale: a load, the handler's 304, the update
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
