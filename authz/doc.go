// Package authz answers two questions for every request: who is calling
// (authentication, which puts a Principal in the context) and may they do
// this (authorization, by rules written as expressions over the principal,
// the request and resources looked up on demand, compiled and
// type-checked once at start-up, denying by default).
//
// # Principals
//
// A Principal is the authenticated caller: an id, a type (user, service,
// apikey), the tenant or compartment it belongs to, roles, scopes or
// permissions, and any other claims. The middleware puts it in the
// request's context, where FromContext finds it; WithPrincipal puts one
// there (for tests, or when an outer layer authenticated already: the
// middleware then uses it and does not authenticate again). PrincipalID
// keys rate limits by caller: ratelimit.Principal(authz.PrincipalID).
//
// # Authentication
//
// An Authenticator finds one kind of credential in a request's headers and
// turns it into a Principal. There are two, and First to combine them
// (WithAuthenticator takes several too, and tries them in order the same
// way):
//
//	keys, err := authz.NewAPIKeys(map[string]*authz.Principal{
//		os.Getenv("BILLING_KEY"): {ID: "billing", Type: "service", Tenant: "c1"},
//	})
//	...
//	bearer, err := authz.NewJWT(
//		authz.WithAlgorithms("RS256", "ES256"),
//		authz.WithJWKS("https://idp.example/.well-known/jwks.json"),
//		authz.WithIssuer("https://idp.example"),
//		authz.WithAudience("inventory-api"),
//	)
//	...
//	defer bearer.Close()
//	auth := authz.First(bearer, keys)
//
// Each answers a request in one of three ways: a Principal; ErrNoCredentials
// when the request carries none of its credentials; or, when a credential
// is present but not valid, an error that unwraps to ErrUnauthenticated
// (401) and whose message gives the reason for logs ("token expired",
// "invalid signature", "unknown key id", "revoked API key"). The message
// never contains the credential, and a client sees only
// "authz: unauthenticated": problem+json details come from the sentinel,
// not from the reason.
//
// API keys. NewAPIKeys keeps only the SHA-256 digests of the keys. A
// request's key (header X-API-Key, or WithKeyHeader) is hashed, looked up by
// digest and compared with the stored digest in constant time
// (crypto/subtle). The map lookup itself is timing-safe: the most its timing
// could tell is how many leading bytes of the digest of a guess match a
// stored digest, and nobody can choose a digest's bytes, so that brings no
// guess closer to a key. Keys must therefore be long random strings (128
// bits or more), not passwords. WithKeyLookup finds keys by digest in a
// store of your own, and WithRevoked (digests too) or a lookup returning
// ErrRevoked revokes keys. A revoked key gets the same 401 and challenge as
// an unknown one; only the log says "revoked". Empty, repeated and oversize
// keys (over MaxAPIKeyLength, 4 KiB, refused before hashing) are invalid.
// The key is read from its header only, never from Authorization. A known
// key is authenticated without allocating.
//
// JWT. NewJWT verifies "Authorization: Bearer <token>" (RFC 6750 section
// 2.1; the scheme in any case; one header, one token) with
// github.com/golang-jwt/jwt/v5. WithAlgorithms is required and "none" is
// never allowed. Each key verifies only the algorithms of its kind: an RSA
// key never acts as an HMAC secret (the HS256-signed-with-the-public-key
// confusion), an HMAC secret never verifies RS256, a P-256 key only ES256,
// and a JWK's alg, use and key_ops are respected. The signature is checked
// before the claims, so an expired token with a bad signature is an invalid
// signature. exp is required by default (WithExpirationRequired), nbf is
// checked, iss and aud when WithIssuer and WithAudience are given, all
// within WithLeeway (default 0). Tokens longer than DefaultMaxTokenSize
// (8 KiB, WithMaxTokenSize) or not shaped as three base64url parts are
// refused before anything is decoded, so a header of thousands of dots
// costs a scan and no allocation. The jku, x5u, x5c and jwk header
// parameters are ignored: no key or URL is ever taken from the token. kid
// is an opaque map key. By default the Principal's ID is sub (a token
// without one is refused), its Type "user" (WithTypeClaim), its Tenant the
// tenant claim (WithTenantClaim), its Roles the roles claim
// (WithRolesClaim), its Scopes scope (space-separated) or scp (an array),
// its Claims every claim and its Scheme "bearer"; WithPrincipalFunc
// replaces the mapping.
//
// Keys. WithKey adds a key (an RSA, ECDSA or Ed25519 public key, or an
// HMAC secret of at least 32 bytes) under a kid; WithKeySet adds the keys
// of a JWK Set document, parsed with github.com/MicahParks/jwkset.
// WithJWKS fetches a JWK Set from a URL (https, or http to loopback)
// through paved's retry and keeps it in paved's cache: fetched on first
// use by one request for all concurrent ones, refreshed in the background
// every WithJWKSRefresh (1 hour), and served stale while the identity
// provider fails for up to WithJWKSMaxStale (24 hours). A token with a kid
// not in the set (a rotated key) causes one early fetch shared by
// concurrent requests, at most once per WithUnknownKIDRefetch (5 minutes),
// so made-up kids cannot flood the provider; after a failed fetch the next
// waits 5 seconds, doubling per failure up to 5 minutes. Secret (oct) and
// encryption keys in a fetched set are skipped and logged. Close a JWT that
// uses WithJWKS when done with it.
//
// First. First(auths...) lets the first authenticator that finds its
// credential decide: a request with a bad token and a good API key is
// refused by the bearer authenticator, not rescued by the key. Nil
// authenticators are skipped; when none finds a credential the answer is
// ErrNoCredentials.
//
// Challenges. Challenge(err) is the WWW-Authenticate value for a 401
// (RFC 9110 section 11.6.1). JWT answers `Bearer realm="api"` when there was
// no token and `Bearer realm="api", error="invalid_token",
// error_description="token expired"` for a bad one (RFC 6750 section 3;
// the description is one of a fixed set of reasons). APIKeys answers
// `ApiKey realm="api", header="X-API-Key"` in every case (ApiKey is not a
// registered scheme; the parameter says where the key goes), so revoked and
// unknown keys look alike. First answers with the challenge of the
// authenticator that decided, or, with no credentials, all of them joined
// by ", ". The realm parameter appears with WithRealm.
//
// What is logged. Authenticators do not log per request: the middleware
// logs the reason from the error. NewJWT's WithLogger receives key set
// events: a failed fetch (Warn, with the URL, the error, the number of
// consecutive failures and the backoff), the recovery after failures
// (Info), and keys of a fetched set that were skipped (Warn, with kid and
// reason). Tokens, keys and secrets are never logged.
//
// Each route says whether it needs a caller (WithAuthentication): Required
// (the default) answers 401 without a valid credential, Optional lets an
// anonymous request through but still rejects a bad credential, None
// ignores credentials. The 401 is problem+json with a WWW-Authenticate
// header per authenticator (its Challenge); the reason is logged at Debug,
// never the credential. An Authorizer with no authenticator (its
// principals come from an outer layer, through WithPrincipal) has no
// challenge to send, and a 401 must carry one (RFC 9110 section 15.5.2):
// a request without a principal gets 403 instead.
//
// # Rules
//
// A Rule is a name, an expression of type bool and an effect: Allow or
// Forbid. The rules of a request's route (WithRoute, keyed by the
// http.ServeMux pattern that matched it, r.Pattern) decide as Cedar's
// policies do:
//
//   - a forbid rule that is true denies, whatever the allow rules say;
//   - else an allow rule that is true allows;
//   - else the request is denied: nothing allows by default.
//
// A rule whose expression fails at run time (a resolver error, a missing
// resource, a field of a missing body, a lookup cap) cannot allow; a
// failing forbid rule denies, since it might have matched. Forbid rules
// are evaluated first, and evaluation stops at the first rule that
// decides. The Decision names that rule, says why in Reason, and lists
// the errors of the rules that failed; its Explain form, for logs and
// tests, also says which clause of a denied allow rule's top-level &&
// chain was false (computed for denials only, by evaluating the clauses
// on their own, with resources from the memo).
//
//	az, err := authz.New(
//		authz.WithAuthenticator(keys),
//		authz.WithResolver("instance", lookupInstance),
//		authz.WithRoute("POST /instances/{id}/terminate",
//			authz.Allow("operators of the compartment",
//				`hasRole("operator") && resource("instance", request.pathValue("id")).compartment == principal.tenant`),
//			authz.Forbid("protected", `resource("instance", request.pathValue("id")).protected == true`)),
//		authz.WithRoute("POST /instances",
//			authz.Allow("launch in own compartment",
//				`all(request.body.instanceIds, {resource("instance", #).compartment == principal.tenant})`)),
//		authz.WithPublic("GET /healthz"),
//	)
//	mux := az.NewMux()
//	mux.HandleFunc("POST /instances/{id}/terminate", terminate)
//	mux.HandleFunc("POST /instances", launch)
//	mux.HandleFunc("GET /healthz", healthz)
//	if err := mux.Check(); err != nil {
//		log.Fatal(err) // a route without rules, or rules for no route
//	}
//
// New compiles every rule and returns every problem at once, each a
// *CompileError naming the route, the rule, the line and column, with a
// caret under the place: unknown names, wrong argument or operand types, a
// result that is not bool (an any-typed result such as request.body.admin
// must be compared: request.body.admin == true), a constant header name
// outside WithHeaders, a constant path value the route's pattern has no
// wildcard for, a resource kind without a resolver. Compile checks and
// compiles one expression the same way; (*Policy).Eval evaluates it for
// an http.Request.
//
// # The environment
//
// Expressions are expr-lang expressions (https://expr-lang.org) over a
// typed environment, so types are checked at compile time and nothing
// outside it is reachable:
//
//	name                         type        what
//	principal                    Principal   the caller; the zero Principal when anonymous
//	principal.id                 string      its ID
//	principal.type               string      user, service, apikey, ...
//	principal.tenant             string      its tenant or compartment
//	principal.roles              []string    its roles
//	principal.scopes             []string    its scopes or permissions
//	principal.claims             map         other claims: principal.claims.level
//	principal.scheme             string      the authenticator that made it
//	request.method               string      the HTTP method ("POST" for gRPC)
//	request.path                 string      the URL path (the full method for gRPC)
//	request.pattern              string      the ServeMux pattern or gRPC full method
//	request.pathValue(name)      string      a wildcard of the pattern, as r.PathValue
//	request.query(name)          string      the first value of a query parameter
//	request.header(name)         string      a header of the WithHeaders allow-list
//	request.body                 any         the body as JSON, read only if used (gRPC: the message)
//	now                          time.Time   the time of the decision
//	hasRole(role)                bool        principal.roles contains role
//	hasScope(scope)              bool        principal.scopes contains scope
//	hasPermission(permission)    bool        the same, for permission-minded rules
//	inTenant(tenant)             bool        tenant is principal.tenant and not ""
//	resource(kind, id)           any         the resource a resolver finds (see below)
//
// plus expr's operators and builtins (all, any, none, one, filter, map,
// count, len, in, matches, startsWith, ...), except toJSON, fromJSON,
// flatten, repeat, date and timezone, which recurse over data of any
// depth, build values of any size or read files. Numbers in a body are
// float64. The body is read and parsed when the first rule that reads it
// runs, and put back for the handler: a request an earlier rule decides
// (an admin's) is never read or refused for its body. A body nested
// deeper than WithMaxBodyDepth (32) is refused, so no deep data reaches a
// builtin that recurses. WithMaxNodes (1000)
// bounds an expression's size, and WithMemoryBudget an evaluation's.
//
// # Resources: object-level authorization
//
// resource(kind, id) calls the resolver registered for kind with
// WithResolver and returns what it found, so rules can compare the
// caller with the object the request is about (OWASP API1, broken
// object-level authorization). A JSON number id is formatted without a
// fraction. Each request keeps what it looked up (a second resource()
// for the same kind and id costs a slice scan, not a call), at most
// WithMaxLookups (100) resolver calls per request. The resources found
// are handed to the handler: Resource(ctx, kind, id) returns the very
// object the decision was about, so the handler need not fetch it again
// (and cannot act on a different one). Each kind's calls go through a
// circuit breaker; WithResolverCache keeps resources across requests.
// Decisions themselves are never cached.
//
// A resolver returning ErrNotFound (or nil) makes resource() fail: the
// rule fails and the request is denied, 403. Any other resolver error,
// or an open breaker, is an outage: 403 too, unless
// WithOutageStatus(503) asks for ErrUnavailable (503), so clients retry
// rather than conclude they lack access.
//
// # Middleware, Mux and Check
//
// Middleware goes inside the ServeMux, on each route, where r.Pattern is
// set; NewMux returns a ServeMux that does this for every route it
// registers and remembers the patterns. Start-up refuses a route without a
// rule: Check (and Mux.Check) reports every served route that has neither
// rules nor WithPublic, and every rule for a route that is not served.
// Outside a mux there is no pattern: the default rules (WithDefault; none,
// so deny, unless set) apply, and the middleware logs one Warn line.
// authzgrpc serves the same Authorizer as gRPC interceptors, with rules
// keyed by full method, and Authorize serves any other transport.
//
// # Errors
//
//	condition                              error                  HTTP   gRPC
//	no or bad credential                   ErrUnauthenticated     401    UNAUTHENTICATED
//	denied                                 *DenyError, ErrDenied  403    PERMISSION_DENIED
//	lookup outage, WithOutageStatus(503)   ErrUnavailable         503    UNAVAILABLE
//	body over WithMaxBodyBytes             ErrBodyTooLarge        413    INVALID_ARGUMENT
//	body not JSON, or too deep             ErrBadBody             400    INVALID_ARGUMENT
//
// Answers are problem+json (WithErrorHandler replaces the writer). A
// denial's message names the deciding rule ("authz: denied: forbidden by
// rule \"protected\"") and never quotes a rule's expression.
//
// # Defaults
//
// Deny by default; authentication required; no headers readable; body
// read only for rules that use it, up to 1 MiB and 32 levels; 100
// lookups per request; lookups not cached across requests; outages
// answered 403; expressions up to 1000 nodes.
//
// # Observability
//
// Every decision counts in paved.authz.decisions with paved.authz.policy
// = the deciding rule's name ("none" when nothing matched) and decision =
// allow, deny or error (a denial in which a rule failed). A denial adds
// an authz.denied event to the current span, logs its Explain form at
// Debug, and fills the call's audit information (who, decision, rule,
// reason, resources) for the audit middleware when it wraps this one.
// WithDryRun decides as usual, logs denials at Info ("would deny", at
// most a line a second) and counts them, and lets every request through. Each resolver kind's
// breaker reports as paved.breaker.* with name authz.resource.<kind>.
//
// # Performance
//
// Programs are compiled once and shared; each evaluation takes a virtual
// machine and an environment from a pool; the principal functions are
// bound to the pooled environment. A rule that is nothing but a principal
// function of a constant, such as hasRole("admin"), is answered by calling
// it, without the virtual machine, and a route whose rules are all of that
// kind takes no evaluation from the pool. Nothing is built per request but
// the context that carries the principal and its resources, and the
// request copy that carries that context. Measured on this 2-core machine,
// shared with other work and busy (load average 3 to 4), as the medians of
// 8 runs of go test ./authz -run XXX -bench
// 'Evaluate|Middleware|ResourceCheck|APIKeys$' -benchmem, alternated with
// runs of the code before the changes that removed the virtual machine and
// the pool from such routes and read the API key header once (benchstat):
//
//	BenchmarkEvaluate/raw           expr.Run, prebuilt environment      533 ns/op  3 allocs/op
//	BenchmarkEvaluate/paved         Policy.Eval of a request            427 ns/op  2 allocs/op
//	BenchmarkMiddleware/raw         bare handler on a ServeMux          301 ns/op  1 allocs/op
//	BenchmarkMiddleware/paved       NewAPIKeys + hasRole                1.27 µs/op 3 allocs/op  (before: 1.79 µs, -29%)
//	BenchmarkResourceCheck/raw      two resource(), both memoized       1.71 µs/op 8 allocs/op
//	BenchmarkResourceCheck/paved    two resource(), one resolver call   2.08 µs/op 6 allocs/op
//	BenchmarkAPIKeys                a known key                          184 ns/op 0 allocs/op  (before: 300 ns, -39%)
//
// On a quieter run (load average 2; go test ./authz -run XXX -bench
// 'BenchmarkMiddleware$' -benchmem -count 6, medians) the middleware cost
// 917 ns/op, 3 allocs/op, against 240 ns/op, 1 alloc/op for the bare handler.
//
// Of the middleware's 1 µs over the bare handler, the API key's SHA-256
// and lookup are about 180 ns, and the request copy that carries the
// principal, with the garbage collection its 320 bytes cause, about 40%
// (in a CPU profile; the benchmark's heap is tiny, so the collector runs
// often and the copy pays its write barriers); the hasRole rule and the
// metric are a few tens of nanoseconds.
//
// An allowed request costs the middleware two allocations: the context
// with the principal and the request that carries it.
//
// Authentication, measured on this 2-core machine, shared and busy (load 5 to 6),
// as the median of 15 runs of go test -run XXX -bench JWT -benchmem
// -benchtime 2000x ./authz/, raw and paved side by side in each run:
//
//	BenchmarkJWT/RS256/raw     70.0 µs/op  4360 B/op  78 allocs/op  jwt.Parse with the key
//	BenchmarkJWT/RS256/paved   65.7 µs/op  4392 B/op  79 allocs/op  median of per-run ratios 0.94x
//	BenchmarkJWT/ES256/raw    131.4 µs/op  4007 B/op  90 allocs/op
//	BenchmarkJWT/ES256/paved  128.7 µs/op  4040 B/op  91 allocs/op  0.97x
//	BenchmarkAPIKeys            184 ns/op     0 B/op   0 allocs/op  a known key (see above)
//
// The signature check is nearly all of it: in a CPU profile of the paved
// RS256 case, 97.6% of Authenticate is golang-jwt's ParseWithClaims (a
// quarter of it converting the *rsa.PublicKey for crypto/internal/fips140
// on each verification, in raw as well). Authenticate reuses one
// jwt.Parser where jwt.Parse builds one per call, and adds the Principal:
// one allocation more.
package authz
