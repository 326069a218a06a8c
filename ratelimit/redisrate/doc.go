// Package redisrate keeps rate limits in Redis, so that every instance of
// a service draws from the same buckets. A service of four instances with
// a ratelimit.Keyed of 100 requests a minute per client lets a client
// make 400 (each instance counts alone); with a redisrate.Limiter of the
// same quota it lets 100 through, whichever instances serve them.
//
// A Limiter implements ratelimit.Decider, so it takes a Keyed's place in
// a ratelimit.Policy, a ratelimit.Enforcer or ratelimitgrpc, unchanged:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	perClient, err := redisrate.New("api", rdb, rate.Every(600*time.Millisecond), 100) // 100 a minute
//	...
//	limits, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: perClient, Key: ratelimit.APIKey})
//	mux.Handle("GET /items", limits.Middleware(items))
//
// It answers as a Keyed does: Allow and AllowN take tokens and return a
// ratelimit.Decision (allowed, tokens left, retry-after, time until the
// bucket is full), from which the middleware writes 429, Retry-After and
// the RateLimit headers.
//
// # One round trip, Redis's clock
//
// Each decision is one Lua script, run by EVALSHA (go-redis's Script.Run,
// which sends EVAL instead when Redis answers NOSCRIPT, as it does after
// a restart or a failover). The script implements the generic cell rate
// algorithm (GCRA): a bucket is one value, its theoretical arrival time
// (TAT), the time at which it would be full again. A bucket of burst b
// refilling one token every T holds b - (TAT - now)/T tokens; taking n
// moves TAT forward by n*T, when that leaves no fewer than zero. That is
// x/time/rate's token bucket, computed from one stored time instead of a
// count and a time, and the script reads and writes it atomically, so no
// two instances ever take the same token.
//
// "now" is Redis's clock (the TIME command), not the instances': their
// clocks may disagree by milliseconds, Redis has one. Redis 5 and later
// replicate a script's writes rather than the script (Redis 7 has no
// other mode), which makes reading the time in a writing script safe.
//
// The arithmetic is x/time/rate's, in doubles, at Redis's resolution of a
// microsecond; a table test replays schedules through a Limiter and a
// ratelimit.Keyed and requires the same Allowed and Remaining, and
// RetryAfter and ResetAfter within a microsecond, except at exact ties
// (a call arriving the very microsecond its tokens are due), where float
// rounding may decide either way in either. RetryAfter is a whole number
// of microseconds, computed from the script's own numbers: asking again
// after exactly RetryAfter is allowed (unless someone else took the
// tokens), a microsecond earlier is not.
//
// # Keys
//
// A bucket's key is prefix + name + ":{" + key + "}", for example
// paved:rl:api:{203.0.113.7}. The prefix is "paved:rl:" unless WithPrefix
// says otherwise. The name keeps limiters apart: instances share a limit
// by giving it the same name, and two limits of one service never share
// a bucket. A key longer than 64 bytes is replaced by "#" and its SHA-256
// digest (base64url), as ratelimit's own store does, so a client cannot
// make Redis hold long keys. The braces are a Redis Cluster hash tag: a
// Cluster places a bucket by its key alone, and each script touches one
// key, so it never crosses slots. Each key expires (PX) when its bucket
// would be full again: an idle client costs nothing, and a missing key is
// a full bucket.
//
// # When Redis cannot decide
//
// Each call to Redis is bounded by WithTimeout (50 ms by default) and
// guarded by a breaker.Breaker named "redisrate:" + name (package
// breaker's defaults, but open for 5 s; WithBreaker changes them). When a
// call fails or times out, and when the open breaker lets no call
// through, the fallback decides (WithFallback):
//
//   - Local (the default): an in-memory ratelimit.Keyed of the same
//     quota, one per Limiter. Limits stay in force, but per instance: n
//     instances let through up to n times the limit while Redis is away,
//     and the local buckets start full.
//   - FailOpen: every call is allowed.
//   - FailClosed: every call is refused, with RetryAfter the time the
//     bucket takes to gain the tokens asked for.
//
// While the breaker is open no call is made at all, so a Redis that is
// down or hangs costs a decision nothing: only the calls that open the
// breaker wait (at most the timeout each). Once it half-opens, a probe
// decision goes to Redis; when it succeeds, decisions are shared again.
// go-redis's own retries (of commands, MaxRetries, 3 by default, and of
// dials, DialerRetries, 5 by default, 100 ms apart) happen within the
// timeout: a Redis that refuses connections costs each call up to the
// timeout until the breaker opens. A command retried after its reply was
// lost may take tokens twice, which errs on the side of limiting.
//
// The client must honour context deadlines (ContextTimeoutEnabled in
// go-redis's options): without it go-redis reads with its own read
// timeout (3 s by default) whatever the deadline, and New refuses such a
// *redis.Client, *redis.ClusterClient or *redis.Ring.
//
// # Observability
//
// Every decision the fallback makes counts in paved.ratelimit.fallbacks,
// with the limiter's name (paved.ratelimit.limiter) and a reason: error,
// timeout or breaker_open. The breaker reports paved.breaker.calls and
// paved.breaker.state under its name, and logs its transitions at Warn.
// The limiter logs at Warn once when the open breaker cuts Redis off
// ("deciding by the fallback until it answers again") and once when Redis
// answers again, with the number of decisions made in between; failed
// calls while the breaker is still closed are logged at most once a
// second, with the number left out. Keys are never logged. Decisions
// themselves are counted by the ratelimit.Enforcer or Policies that uses
// the limiter (paved.ratelimit.decisions).
//
// # What was verified
//
// The tests run against a real redis-server 7.0.15, one node, on
// loopback: two limiters with their own clients sharing a key allow
// exactly the burst between them, serially and from 8 goroutines; a
// table of schedules against ratelimit.Keyed (rates of 1000/s down to
// one an hour, n tokens, more than the burst, exact ties); RetryAfter
// exact to the microsecond; key names, hash tags and long keys (SCAN),
// TTLs (PTTL, then the keys gone once their buckets are full), expiries
// too long for Redis; SCRIPT FLUSH (the NOSCRIPT path); Redis stopped
// (each fallback mode, the breaker opening after the configured failures,
// the counts of paved.ratelimit.fallbacks, one log line for the outage);
// a server that accepts connections and never answers (each call bounded
// by the timeout until the breaker opens, then not one byte sent); Redis
// restarted (the breaker half-opens, a probe succeeds, and two limiters
// share the burst again); the limiter behind ratelimit.NewPolicies on
// httptest servers (429, Retry-After, RateLimit headers, one limit across
// two middlewares) and behind a ratelimit.Enforcer. Redis Cluster (one
// key per script, hash-tagged) and Valkey (which runs the same scripts
// and commands) are designed for but not tested here; neither are Redis
// versions before 7.
//
// # Performance
//
// A decision is one round trip, like a PING, plus the script: TIME, GET
// and SET with PX, and a little arithmetic in Lua. Measured on a 2-core
// machine shared with other work (load average 2), against redis-server
// 7.0 on loopback, the medians of six runs of
//
//	go test -c -o rr.test ./ratelimit/redisrate/ && ./rr.test -test.run XXX -test.bench RedisAllow -test.benchmem -test.count 6
//
//	                                      per call  Redis CPU  allocs
//	BenchmarkRedisAllow/serial/raw          125 µs      41 µs       6  PING
//	BenchmarkRedisAllow/serial/evalsha      203 µs      94 µs      14  the script by EVALSHA
//	BenchmarkRedisAllow/serial/paved        211 µs      92 µs      20  1.7x PING, 1.04x EVALSHA
//	BenchmarkRedisAllow/parallel/raw         22 µs      13 µs       6  PING, 16 goroutines
//	BenchmarkRedisAllow/parallel/evalsha     42 µs      30 µs      14  the script by EVALSHA
//	BenchmarkRedisAllow/parallel/paved       47 µs      31 µs      20  2.2x PING, 1.13x EVALSHA
//
// Redis CPU is the redis-server's CPU time per call (INFO cpu). With
// parallel callers Redis's one thread is the bound: it spends 2.5x a
// PING's time on this script, and the calls per second follow. Of the
// script's time, Redis's INFO commandstats put about 13 µs inside
// EVALSHA (about 3 µs for an empty script; in a loop in Lua, SET costs
// 2.5 µs, TIME 1.0, GET 0.9, formatting the bucket's value 1.5, parsing
// it 1.3 and reading the arguments 0.9) against 0.3 µs for PING; the
// rest is reading and answering the call. The client's part is the
// timeout, the breaker and 6 allocations more than the raw EVALSHA (the
// key, the call the breaker runs, the deadline's context and timer). The
// ratio varies with the machine's load (runs of the same binary differ
// by 20% and more) and should be lower on a Redis with a core of its
// own (not measured here). With the breaker open a decision makes no
// round trip: BenchmarkRedisAllow/breaker-open, a Local decision with
// Redis down, measured 590 ns/op and 2 allocs (a ratelimit.Keyed's
// decision behind the breaker's check, the fallback's count and the
// breaker's rejection).
package redisrate
