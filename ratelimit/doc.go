// Package ratelimit gives every caller of a service its own token bucket:
// keyed by client address, API key, principal or tenant, per route, with
// bounded memory, 429 Too Many Requests with Retry-After, and the IETF
// RateLimit and RateLimit-Policy headers. Buckets are
// golang.org/x/time/rate limiters; ratelimitgrpc does the same for gRPC.
//
// # Middleware
//
// NewPolicies takes a default Policy (a name, a limiter and a KeyFunc) and
// per-route overrides matched on the http.ServeMux pattern (r.Pattern);
// its Middleware goes inside the mux, on each route, where the pattern is
// set:
//
//	perKey, _ := ratelimit.NewKeyed(rate.Every(600*time.Millisecond), 100) // 100 a minute
//	launches, _ := ratelimit.NewKeyed(rate.Every(30*time.Second), 2)     // 2 a minute
//	limits, err := ratelimit.NewPolicies(
//		ratelimit.Policy{Name: "api", Limiter: perKey, Key: ratelimit.APIKey},
//		ratelimit.WithRoute("POST /instances", ratelimit.Policy{Name: "launch", Limiter: launches, Key: ratelimit.APIKey}),
//	)
//	...
//	mux.Handle("POST /instances", limits.Middleware(launch))
//
// Mounted around the mux instead, the middleware sees no pattern: the
// default policy applies to every request, and one Warn log line says
// that the route policies never do. There is no zero-configuration
// Middleware: no rate is a safe default for every service.
//
// An allowed request gets, in the syntax of
// draft-ietf-httpapi-ratelimit-headers (revision 11),
//
//	RateLimit-Policy: "launch";q=2;w=60
//	RateLimit: "launch";r=1;t=30
//
// where q is the burst, w the seconds an empty bucket takes to fill, r the
// tokens left and t the seconds until the bucket is full. A limited request
// gets 429 application/problem+json (RFC 9457), Retry-After in whole
// seconds (rounded up, at least 1), and the same headers with r=0 and t
// equal to Retry-After. WithHeaders(false) drops the RateLimit headers;
// WithErrorHandler replaces the error response. Stacking two middlewares
// (per address outside, per API key inside) applies both policies, and
// both are listed in the headers.
//
// # Limiters
//
// A Limiter is one bucket shared by all its callers, a wrapped
// rate.Limiter: a global cap (a Policy with a Limiter needs no key), or a
// client pacing its calls to an API with its Transport and Wait. A Keyed
// limiter holds one rate.Limiter per key in a bounded, sharded store
// (100,000 keys unless WithMaxKeys says otherwise), and decides for each
// key as a Limiter would. Both answer Allow, AllowN and their ...At
// variants with a Decision (allowed, remaining tokens, retry-after, time
// until full), and Wait, which waits for a token but fails at once with a
// *LimitError when the wait would overrun the context's deadline.
//
// A Keyed store never resets a limit to make room: it forgets only keys
// whose bucket would be full by now, so a client that drained its bucket
// cannot get a fresh one by sending requests under many other keys. When
// the store is full of buckets still refilling, new keys share one
// overflow bucket until room is made: memory stays bounded, and those
// decisions count in paved.ratelimit.overflow, which should stay at zero
// in normal traffic (raise WithMaxKeys if it does not).
//
// The middleware and the gRPC interceptors use limiters through the
// Decider interface, which a distributed limiter (buckets in Redis, shared
// by every instance) implements as well, and through an Enforcer, which
// applies one named policy to requests of any transport: counting,
// tracing, dry run and throttled logging, written once. A server of
// another protocol builds its adapter on NewEnforcer.
//
// # Keys
//
// A KeyFunc picks a request's bucket. ClientIP, the default, keys by the
// connection's peer address; behind load balancers, Proxies.ClientIP reads
// the one forwarding header the proxies set (X-Forwarded-For, Forwarded or
// X-Real-IP), only from trusted proxy networks, taking the right-most
// address that is not a trusted proxy, so a client cannot forge its
// address. IPv6 clients are keyed by their /64 (AddrKey). A server on a
// Unix socket or an in-process listener has no peer address: its callers
// share the bucket LocalKey, unless Proxies trusts a network, in which
// case the local peer is trusted as the proxy in front and its header
// names the client. Header, APIKey, Route and Principal key by a header,
// an API key, the route and the authenticated principal; Join composes
// them (Join(Route, APIKey)). A key function that fails or returns "" gets
// 400 and ErrNoKey, unless WithAnonymousKey names one bucket all such
// requests share. Keys are never logged or used as metric attributes.
//
// # Errors
//
// A limited call is a *LimitError, which unwraps to ErrLimited and carries
// RetryAfter; it maps to HTTP 429 and gRPC RESOURCE_EXHAUSTED with
// google.rpc.RetryInfo. ErrNoKey maps to 400 and INVALID_ARGUMENT.
//
// # Defaults
//
// Keyed by client IP, forwarding headers ignored until Proxies names
// trusted networks, local peers keyed LocalKey; 100,000 keys per Keyed
// limiter; requests without a key rejected with 400; RateLimit headers on;
// a server rejects, it does not wait; a client's Wait is bounded only by
// its context unless WithMaxWait bounds it (WithMaxWait(0) fails fast); a
// nil base transport is paved's default one; the logger is slog.Default()
// at the time of logging. If a Decider fails (its store is unreachable)
// the request goes through and the failure is logged at most about once a
// second: a broken limiter never takes a service down.
//
// # Observability
//
// Every decision counts in paved.ratelimit.decisions with the policy name
// and decision (allowed, limited), and one on a Keyed's overflow bucket in
// paved.ratelimit.overflow too; a limited one adds a ratelimit.limited
// event to the span in the request's context (the package starts no spans
// of its own, so it takes no TracerProvider). WithDryRun makes every
// decision and counts, logs and traces it, but limits nothing and sends
// no rate-limit headers, to try a limit on live traffic first.
//
// # Status page
//
// Every Enforcer (NewEnforcer, each policy of NewPolicies with its route
// pattern as the row's key, ratelimitgrpc's) is a row of the status page
// (package status) under its policy name, until it is no longer
// reachable: the limiter's kind, quota, the keys a Keyed holds out of its
// bound, its overflow decisions and whether the overflow bucket was used
// in the last minute, and the rejections per minute the row charts (see
// PolicyReport). The row warns while the policy limits or overflows. The
// page reads this state when it is asked; the only cost on a request's
// path is one atomic add per limited request.
//
// # Performance
//
// No decision allocates, but for a key longer than 64 bytes, which the
// store holds as its SHA-256 digest so that WithMaxKeys bounds memory
// whatever the keys' length. A Limiter's decision is two calls into its
// rate.Limiter (one when it is limited). A Keyed decision first finds the
// key's rate.Limiter, with a hash, a read lock on the key's shard (let go
// before the limiter is called) and an LRU lookup, then decides as a
// Limiter does; a Keyed limiter holds about 260 bytes per key (a million
// distinct keys leave 25 MiB of live heap with the default bound, flat
// once it is full). The middleware adds the key function (ClientIP of an
// IPv4 peer is parsed by hand and allocates nothing) and, with headers
// on, the RateLimit values, which come formatted from a small cache per
// policy: no allocation for the common ones. Without headers an allowed
// request locks its bucket once. Measured on a 2-core machine (AMD EPYC,
// shared with other work: load average about 2), the fastest of three
// runs of
//
//	go test -run XXX -bench 'Allow|Middleware' -benchmem -count 3 ./ratelimit/
//
//	BenchmarkAllow/allowed/raw                      115 ns/op  0 allocs  rate.Limiter.Allow
//	BenchmarkAllow/allowed/paved                    138 ns/op  0 allocs  1.20x
//	BenchmarkAllow/limited/raw                      120 ns/op  0 allocs
//	BenchmarkAllow/limited/paved                    108 ns/op  0 allocs  0.90x
//	BenchmarkAllowKeyed/serial/raw                  145 ns/op  0 allocs  mutex-guarded map of rate.Limiters, 10k keys
//	BenchmarkAllowKeyed/serial/paved                211 ns/op  0 allocs  1.45x
//	BenchmarkAllowKeyed/parallel/raw                154 ns/op  0 allocs
//	BenchmarkAllowKeyed/parallel/paved              143 ns/op  0 allocs  0.93x
//	BenchmarkMiddleware/raw                          10 ns/op  0 allocs  the bare handler
//	BenchmarkMiddleware/paved/one-bucket/headers=off 150 ns/op  0 allocs
//	BenchmarkMiddleware/paved/one-bucket/headers=on  261 ns/op  0 allocs
//	BenchmarkMiddleware/paved/per-IP/headers=off     270 ns/op  0 allocs
//	BenchmarkMiddleware/paved/per-IP/headers=on      377 ns/op  0 allocs
//
// Reading the clock (time.Now) is about 60 ns of each decision on that
// machine; adding the two header fields to the response's map is most of
// what headers cost. BenchmarkChain in the module's root measures the
// middleware with package breaker's, served into a fresh
// httptest.ResponseRecorder, beside the same two features written by
// hand on x/time/rate and gobreaker.
package ratelimit
