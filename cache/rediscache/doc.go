// Package rediscache is a second level on Redis for cache.Cache: each
// instance of a service keeps its own in-process cache (L1) and shares
// what it loads with the others through Redis (L2), so that a key is
// loaded once for the fleet rather than once per instance, and a change
// made through one instance reaches the others' copies.
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}) // or a ClusterClient, or a Ring
//	l2, err := rediscache.New[int, User]("users", rdb)
//	...
//	defer l2.Close()
//	users, err := cache.New[int, User]("users", cache.WithSecondLevel[int, User](l2))
//	...
//	u, err := users.Get(ctx, id, loadUser) // L1, else L2, else loadUser once in the fleet
//	...
//	err = l2.Delete(ctx, id) // after a change: Redis and every instance's L1
//
// A hit in L1 never touches Redis: it is the cache's own hit path, at the
// same cost. On an L1 miss the cache's load asks the Level first, and
// stores what the loader returned in Redis afterwards.
//
// # Freshness
//
// A value in Redis carries the deadlines the loading instance gave its
// own copy, jitter included: how long it stays fresh, and how long it may
// be served at all (the later of its stale-while-revalidate and
// stale-if-error windows), which is the key's Redis expiry (PEXPIRE). The
// value is stored as "<ms>:" and the codec's bytes, where ms is how long
// before its expiry the value stops being fresh, so that freshness is
// judged by Redis's clock alone (PTTL less ms) and the instances' clocks
// need not agree. An instance that reads the value keeps it in its L1
// for exactly the time it has left to be fresh, without jitter, so every
// copy in the fleet goes stale together, within a millisecond or so; its
// stale windows follow from its own options. A value past its fresh
// deadline in Redis counts as missing: the stale copies are served from
// each instance's L1, and the first refresh in the fleet reloads the key
// under the lock.
//
// Since the copies expire together, the instances miss a hot key
// together too: one loads it and the others wait for its value, so give
// such caches cache.WithStaleWhileRevalidate, and their callers are
// served the stale copy meanwhile. cache.WithEarlyRefresh does little
// with a second level: an early refresh finds the value still fresh in
// Redis and keeps its deadline.
//
// # Lock-on-miss
//
// When Redis has no fresh value, the Level sets the key's lock (SET NX PX
// with this instance's random token) in the same script that looked, and
// the cache loads the key. Set then writes the value and frees the lock,
// in one script, and only while this instance still holds the lock; a
// load that stores nothing (it failed, its result was negative, it timed
// out, Close canceled it) frees the lock at once, by compare-and-delete
// (cache.SecondLevel's Release). An instance that finds the lock held by
// another polls Redis (1ms, doubling to 50ms) until the value arrives,
// the lock is freed (it then takes it and loads), or WithLock's wait
// (default 1s) passes: then it loads the key itself, without the lock,
// and does not write its value to Redis. The lock expires after WithLock's
// ttl (default 10s), so an instance that crashed while loading holds the
// others up for the wait at most, and the key no longer than the ttl.
// Within an instance the cache's own coalescing has already reduced the
// misses of a key to one load, so the fleet sees one load per key.
//
// # Invalidation
//
// Delete removes the key from this instance's L1, deletes its value and
// its lock from Redis, and publishes the key on the channel
// "<prefix>invalidate". Every other instance's Level, subscribed since
// cache.New attached it, removes the key from its L1 as cache.Delete
// does: a load running there is superseded and stores nothing. Deleting
// the lock makes a load that started anywhere before the Delete skip its
// write to Redis, so the fleet does not get the old value back from L2.
// cache.Set, cache.Delete and cache.Purge stay local to their instance.
//
// # Consistency
//
// What a reader may see: a value up to its stale deadline, as with the
// cache alone, never a value from before a Delete once the Delete's
// message has reached its instance. Pub/sub is best effort: a message
// sent while an instance's subscriber is disconnected (Redis down or
// failing over, a network cut) is lost, and that instance keeps its L1
// copy until the copy's own deadlines pass. Services that need a bound
// on that staleness keep WithTTL short; the L1 hit costs no more for it,
// only the loads (now mostly L2 hits) come more often.
//
// Negative results follow the cache's own rules: with
// cache.WithNegativeCache, a load that ends in cache.ErrNotFound (wrapped
// or not) is stored in Redis for the negative TTL, as a marker, and the
// other instances get cache.ErrNotFound itself for the key without
// loading it (the loader's wrapping message stays with the instance that
// loaded it). Other negative results, and errors, are never written to
// Redis: the lock is freed at once, and the next instance to miss loads
// the key itself.
//
// # Keys
//
// A key K becomes a string: as is for string keys, in decimal for the
// integer types, and through WithKeyCodec for any other type (named types
// included), whose parse half turns invalidation messages back into keys.
// The key's value lives at "<prefix>{<key>}" and its lock at
// "<prefix>{<key>}:lock", the prefix defaulting to "paved:cache:<name>:".
// The braces are a Redis Cluster hash tag: the value and lock of a key
// are in one slot, as every script needs, whatever the key holds ('%' and
// '}' are escaped as %25 and %7D inside the tag, and the empty key is
// written "%", so the tag is never cut short or empty).
//
// # Redis down
//
// The second level is an optimisation, never a dependency. Every Redis
// call is bounded by WithTimeout (100ms) and goes through a paved breaker
// (named "rediscache:<name>"; 5 consecutive failures open it for 5s,
// WithBreaker adds options): a failed or slow call makes that load go on
// without L2, and once the breaker is open the Level answers "not found"
// without calling Redis, so a dead Redis costs no latency: each instance
// loads its own misses, as without a second level. The breaker logs each
// state change once at Warn, and the invalidation subscriber logs losing
// Redis once (Warn) and getting it back once (Info); go-redis reconnects
// and resubscribes. paved.cache.second_level.requests counts lookups by
// result: hit, miss, waited, wait_expired, and the fallbacks error,
// timeout and breaker_open; the breaker reports paved.breaker.calls and
// paved.breaker.state.
//
// # Verified, and designed for
//
// Verified here against a real redis-server 7.0, single node (tests start
// one each with internal/redistest): a value loaded by one instance is
// read by another without loading, with the same deadlines, and its PTTL
// is the stale deadline; 200 concurrent misses across 4 instances load
// once; an abandoned lock (taken by hand and never released, or whose
// holder's load hangs until its timeout) holds the others up for the
// wait or until it expires, no longer; Delete reaches the other
// instance's L1; with Redis stopped, Gets are served from L1 and the
// loader within the timeout, the breaker opens and logs once, and after a
// restart L2 and invalidation resume. Through a *redis.ClusterClient on
// a one-node Redis Cluster (cluster mode on, every slot on that node,
// where a script whose keys span two slots fails with CROSSSLOT as on a
// larger cluster), the shared load and invalidation work for keys whose
// tags need escaping. Fuzzing checks that a key's value and lock always
// share a Cluster slot and that distinct keys get distinct names.
//
// Designed for but not tested: Redis Cluster of several nodes (go-redis
// routes each script by its first key; a ClusterClient subscribes on one
// node, and Cluster forwards every PUBLISH to all nodes), Ring (go-redis shards by the same hash tag, so a key's value
// and lock share a shard, and it picks the shard of SUBSCRIBE and PUBLISH
// by the channel's name, so both meet) and Valkey (the same commands and
// scripting; the scripts use only GET, SET NX PX, PTTL and DEL).
//
// # Cost
//
// Measured on this 2-core machine (AMD EPYC, shared with other work),
// against a local redis-server, medians of 5 from
// go test -run XXX -bench L2Get -benchmem -count 5 ./cache/rediscache/:
//
//	BenchmarkL2Get/L1/raw                69.4 ns/op      0 B/op   0 allocs/op  a plain cache.Cache hit
//	BenchmarkL2Get/L1/paved              43.1 ns/op      0 B/op   0 allocs/op  a hit of a cache with a Level: the same path
//	BenchmarkL2Get/L2/raw                43.0 µs/op    232 B/op   6 allocs/op  a GET round trip
//	BenchmarkL2Get/L2/paved               123 µs/op   1216 B/op  28 allocs/op  Level.Get: 2.9x (1.3x in an earlier run)
//	BenchmarkL2Get/L2/paved/via-cache     209 µs/op   2008 B/op  37 allocs/op  an L1 miss served from L2
//	BenchmarkL2Get/L2/raw/parallel       56.1 µs/op    232 B/op   6 allocs/op
//	BenchmarkL2Get/L2/paved/parallel      103 µs/op   1216 B/op  28 allocs/op  1.8x
//
// The machine's load average was 5 to 7 on its 2 cores during the runs,
// so a round trip's time varied by 2x between runs of one benchmark, and
// the two L1 figures, which run the same code, differ by noise alone. An
// L1 hit does nothing for the second level. An L2 hit is one EVALSHA
// round trip (GET, PTTL and the freshness arithmetic in one script) plus
// decoding: in a separate probe the script took about 15 µs more than a
// GET, and bounding the call with its timeout's context about 10 µs
// more. Served through the cache it adds the load's goroutine, whose
// wake-ups after the network read cost most of the rest on a loaded
// machine. A miss costs the same round trip, and the write-back one more,
// after the callers have their value.
package rediscache
