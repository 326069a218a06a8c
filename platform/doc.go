// Package platform applies paved's features to every operation of a
// service's OpenAPI 3 document, as its x-platform extension says:
// authentication, authorization with resource lookups, rate limits, audit
// events, response caching, timeouts, and reverse proxying to an upstream
// behind a retry and a circuit breaker. The document is read, checked and
// compiled once, by Load; a team describes its API and gets every
// platform feature without writing middleware.
//
//	p, err := platform.LoadFile("api.yaml",
//		platform.WithAuthenticator("apiKey", keys),
//		platform.WithResolver("subnet", subnets.Lookup),
//		platform.WithAudit(audit.WithSink(fileSink)),
//		platform.WithHandler("launchInstance", launch),
//		platform.WithHandler("getInstance", getInstance),
//	)
//	if err != nil {
//		log.Fatal(err) // every problem of the document, each at its JSON pointer
//	}
//	defer p.Close(ctx)
//	log.Fatal(http.ListenAndServe(":8080", p.Handler()))
//
// Documents are parsed and validated with github.com/getkin/kin-openapi.
//
// # The x-platform extension
//
// x-platform is an object of sections. At the document's root it sets
// the defaults of every operation; on a path item it overrides them for
// the path's operations, and on an operation for that operation. Values
// merge by key, objects recursively: an operation that sets rateLimit.rate
// keeps the root's rateLimit.key. Any other value, arrays included,
// replaces the inherited one, and null removes it (rateLimit: null turns
// an inherited rate limit off).
//
//	x-platform:
//	  authentication:
//	    mode: required          # required (default), optional or none
//	    schemes: [apiKey]       # WithAuthenticator names; default: all, in the order registered
//	  authorization:
//	    check: hasScope("compute.launch") && all(resources["Subnet"], {.compartment == principal.tenant})
//	    resources:              # the declarative form, one entry per kind of resource
//	      - name: Subnet        # resources["Subnet"] in check; the authz kind of the lookups
//	        forEach: request.body.subnetIds   # an expression giving a list of ids (or id: for one)
//	        resolver: subnet    # a WithResolver name
//	        compartmentField: compartment     # default WithCompartmentField, "compartment"
//	        permissions: [use]  # required of the caller in each resource's compartment
//	  rateLimit:
//	    rate: 100/m             # count/period: 10/s, 100/m, 5000/h, 20/30s; or {rate: 100, per: 1m}
//	    burst: 100              # default: the count
//	    key: apiKey             # ip (default), apiKey, principal, header:X-Tenant
//	    policy: api             # default: the operationId; operations naming one policy share its buckets
//	  audit:
//	    level: metadata         # none, metadata (default), request, requestResponse
//	    type: com.example.instances.launch    # the CloudEvents type (default audit.DefaultType)
//	    additionalFields:
//	      ipAddress: response.body.ipAddress  # audit field expressions
//	  cache:                    # GET and HEAD operations only
//	    ttl: 30s                # lifetime of responses that state none
//	    staleWhileRevalidate: 10s
//	    vary: [X-Tenant]        # request headers responses vary on
//	  idempotency:              # POST, PUT, PATCH and DELETE operations only
//	    required: true          # 400 without an Idempotency-Key (default: keys are optional)
//	    ttl: 24h                # how long a final response is replayed
//	    lockTimeout: 1m         # how long a request that never finishes holds its key
//	    wait: 2s                # a retry waits this long for the first to finish (default: 409 at once)
//	    fingerprint: [amount, customer.id]    # body fields that identify the request (default: all of it)
//	    docs: https://example.com/docs/idempotency   # linked from the 400
//	  timeout: 5s               # the request's deadline from the cache inward
//	  upstream:                 # proxy operations that have no handler
//	    url: http://compute.internal:8080
//	    breaker: {failureRate: 0.5, minCalls: 10, openFor: 30s, slowCall: 2s}
//	    retry: {attempts: 3, backoff: 100ms, maxBackoff: 10s}
//
// Durations are Go durations (300ms, 5s, 1m30s) and must be positive.
// Every key, its type and its default:
//
//	key                                   type             default
//	authentication.mode                   string           required
//	authentication.schemes                [string]         every registered authenticator
//	authorization.check                   expression       true when resources are given
//	authorization.resources[].name        identifier       (required)
//	authorization.resources[].forEach     expression       (forEach or id is required)
//	authorization.resources[].id          expression
//	authorization.resources[].resolver    string           (required)
//	authorization.resources[].compartmentField string      WithCompartmentField ("compartment")
//	authorization.resources[].permissions [string]         (required; [] only requires the lookup to succeed)
//	rateLimit.rate                        string | object  (required)
//	rateLimit.burst                       integer >= 1     the rate's count
//	rateLimit.key                         string           ip
//	rateLimit.policy                      string           the operationId
//	audit.level                           string           metadata
//	audit.type                            string           audit.DefaultType
//	audit.additionalFields                {name: expression}  none
//	cache.ttl                             duration         cache package default (heuristic responses not stored)
//	cache.staleWhileRevalidate            duration         0
//	cache.vary                            [header name]    none
//	idempotency.required                  boolean          false
//	idempotency.ttl                       duration         24h
//	idempotency.lockTimeout               duration         1m
//	idempotency.wait                      duration         0 (409 at once)
//	idempotency.fingerprint               [field path]     method, route and the whole body
//	idempotency.docs                      URL              none
//	timeout                               duration         none
//	upstream.url                          http(s) URL      (required)
//	upstream.breaker.failureRate          0 < number <= 1  0.5
//	upstream.breaker.minCalls             integer >= 1     10
//	upstream.breaker.openFor              duration         30s
//	upstream.breaker.slowCall             duration         none (slow calls are not failures)
//	upstream.retry.attempts               1..10            3
//	upstream.retry.backoff                duration         100ms
//	upstream.retry.maxBackoff             duration         10s
//
// A policy's buckets are a ratelimit.NewKeyed in the process unless
// WithLimiters builds them: redisrate.New, for buckets every instance of
// the service shares through Redis.
//
// Schema returns the same as a JSON Schema (draft 2020-12) document,
// embedded from schema/x-platform.schema.json, which Load validates every
// x-platform object against with github.com/santhosh-tekuri/jsonschema/v6:
// a standard validator, so the file also serves editors and other tools,
// with $ref, oneOf and instance locations that become the problems' JSON
// pointers. (kin-openapi's own Schema speaks the OpenAPI 3.0 dialect and
// resolves references only inside a loaded document.)
//
// # Authentication and authorization
//
// Every operation needs authorization: a check, resources, or
// authentication mode none, which makes it public (no credential is
// looked at). An operation with neither is a load error, so that nothing
// goes live unguarded, and the authz start-up check (Check) runs on the
// generated mux.
//
// check is an authz expression (see package authz for the environment:
// principal, request, resource(), hasScope, ...), compiled and type-checked
// by Load. Each resources entry becomes an authz forbid rule over its
// lookups: for each id, the entry's resolver finds the resource, its
// owning compartment is read from compartmentField, and the caller must
// hold every listed permission there. WithPermissions says which
// permissions a principal holds in a compartment; by default a principal
// holds its Scopes in its own Tenant's compartment and nothing elsewhere.
// A lookup that fails (not found, an outage) denies, as authz denies on
// failing rules. An operation that inherits a check is not public even
// with authentication mode none: give it authorization: null. check sees what the entries found as
// resources["Subnet"], a list of Grant values (id, compartment,
// permissions, resource); the lookups are made once per request, and the
// handler finds each Grant with authz.Resource(ctx, "Subnet", id). The
// check is the allow rule, named after the operationId; an entry's rule is
// named "<operationId>.<name>", and denials name the rule that decided.
//
// # The middleware order
//
// Handler returns an http.ServeMux with one route per operation (the
// OpenAPI path template becomes a ServeMux pattern such as
// "POST /instances/{id}/terminate"; templates ServeMux cannot express,
// such as /files/{name}.json, are load errors), behind tracing. Each route
// is, outermost first:
//
//	tracing        around the mux: correlation id, trace context, server span
//	audit          an event for every call, rejections included
//	authentication 401 with WWW-Authenticate; the principal into the context
//	rate limit     429 with Retry-After; keys may be the principal
//	validation     400 (WithRequestValidation)
//	authorization  403 (and 413, 400 for bodies rules cannot read)
//	idempotency    replays a stored response; 400, 409, 422 (package idempotency)
//	sections       registered sections, by name
//	cache          hits answered here, with Age
//	timeout        the request's deadline
//	handler        or the upstream proxy: retry -> tracing -> breaker -> transport
//
// Idempotency sits behind authorization, so only a caller allowed to run
// the operation claims a key (scoped to the principal), and a retry is
// authorized again before a stored response answers it; it sits outside
// the timeout and the handler, so a 504 or a 5xx releases the key for
// the retry. WithIdempotency gives the guards their store (one memory
// store for the platform by default; redisidempotency for several
// instances).
//
// Audit sits outside the rest so that 401, 429 and 403 answers are in the
// trail too; authz fills in the principal and the decision of the event
// it is wrapped in. Authentication is a layer of its own, before the
// rate limits, so that limits keyed by principal and the resource
// lookups of authorization see the caller (authz does not authenticate a
// request whose context holds a principal). Rate limits come before
// validation and authorization, so a flood costs a token check, not body
// parsing and lookups. The cache sits behind authorization, so every
// request is authorized before a stored response answers it, and in front
// of the timeout, because its loads run detached from the request's
// context. Requests with an Authorization header are cached only when the
// response says public or s-maxage (RFC 9111 section 3.5); a response
// that differs per caller must say private or vary on the credential.
//
// Routes returns each operation's handler (without tracing), for a
// gateway that mounts them on a mux of its own next to /metrics.
//
// # Handlers and upstreams
//
// WithHandler gives the handler of an operation by operationId. An
// operation without one is reverse-proxied to its upstream
// (httputil.ReverseProxy through retry, tracing and a breaker named after
// the operationId, on WithTransport or paved's default transport); an
// open breaker answers 503 with Retry-After, a passed deadline 504, any
// other transport failure 502, unless WithUpstreamFallback answers
// instead (the last good response, say). Retries are only for idempotent requests.
// WithUpstreamLayer puts a layer of the service's own between tracing and
// the breaker, such as overload.Throttle's Transport: what it refuses
// itself never counts as a breaker failure.
// An operation with neither a handler nor an upstream, and a handler for
// an operation the document does not have, are load errors.
//
// # Load errors
//
// Load returns every problem at once as a *LoadError, each a Problem with
// the JSON pointer of the value at fault:
//
//	platform: 2 problems:
//		/paths/~1instances/post/x-platform/authorization/check: unknown name principle (1:1)
//		/x-platform/audit/level: value must be one of 'none', 'metadata', 'request', 'requestResponse'
//
// A problem of an inherited value is reported where the value is written,
// once. Expression problems carry their line and column within the
// expression. kin-openapi stops at the first problem of the OpenAPI
// document itself; it is placed at the path, operation, info or
// components object its message names, or at the document.
//
// # Names and observability
//
// Every operation needs an operationId, unique in the document: it names
// the operation's handler, its authz allow rule (the paved.authz.policy of
// its decisions), its response cache (paved.cache.name, and the
// Cache-Status identifier), its upstream breaker and retrier
// (paved.breaker.name, paved.retry.name) and, unless rateLimit.policy
// says otherwise, its rate-limit policy (paved.ratelimit.policy and the
// RateLimit-Policy header). The audit emitter is named by WithName
// ("platform"), which is also its events' source. Metrics go to
// WithMeterProvider and logs to WithLogger in every package. An
// authentication failure is logged at Debug with its reason and recorded
// in the audit event ("unauthenticated"); it is not counted in
// paved.authz.decisions, which counts authorization decisions.
//
// # More sections
//
// The extension is open: a later package (overload, idempotency, quotas)
// adds a section by registering a SectionCompiler, with RegisterSection
// in an init function or WithSection for one Load. Its Compile gets each
// operation that has the section, with its merged value, and returns the
// operation's middleware, which goes after authorization. A section no
// compiler knows is a load error at its pointer.
//
// # gRPC
//
// This package serves HTTP. A gRPC service gets the same features by
// chaining the interceptor packages on its server, in the same order,
// each built on the core value of its package: tracinggrpc.New(tracer),
// auditgrpc.New(emitter), authzgrpc.New(authorizer) with rules keyed by
// full method ("/compute.v1.Compute/Launch"), ratelimitgrpc.New(policy)
// after it when limits are keyed by principal, and on the service's
// clients retrygrpc.New(retrier) around breakergrpc.New(registry):
//
//	tr, _ := tracinggrpc.New(tracer)
//	au, _ := auditgrpc.New(emitter)
//	az, _ := authzgrpc.New(authorizer)
//	rl, _ := ratelimitgrpc.New(policy)
//	srv := grpc.NewServer(
//		grpc.StatsHandler(tr.ServerHandler()), // or its interceptors; see tracinggrpc
//		grpc.ChainUnaryInterceptor(au.UnaryServerInterceptor(), az.UnaryServerInterceptor(), rl.UnaryServerInterceptor()),
//	)
//
// The gRPC packages take their settings as options, not from an OpenAPI
// document.
//
// # Cost
//
// Load does all the work: parsing, schema validation, expression
// compiling, building every limiter, cache and breaker. A request costs
// what the features it uses cost (see each package), plus a function call
// per layer; the timeout adds a request copy, and makes its timer only
// when the handler asks for its context's Done channel (or derives a
// context from it); request validation, when on, costs openapi3filter's
// decoding of the parameters and body. Measured on this 2-core machine,
// shared with other work, so absolute figures swing by tens of percent
// between runs. In process, with
// go test -run XXX -bench Handler -benchmem -count 6 ./platform/ (medians,
// with other builds and benchmarks running, load average about 3):
//
//	BenchmarkHandler/raw              0.6 µs/op    48 B/op   3 allocs/op  the bare handler on a ServeMux
//	BenchmarkHandler/paved/spans=off 13.7 µs/op  3.2 KB/op  18 allocs/op  API key, rate limit, check with a lookup, audit, timeout
//	BenchmarkHandler/paved/spans=on  27.2 µs/op  6.0 KB/op  50 allocs/op  the same with otelhttp spans (no-op provider)
//
// Of the allocations spans=off adds to the bare handler, the platform's
// own layers make six: the correlation id and the request copy carrying
// it (tracing), the request copy carrying the call record (audit), the
// principal's context and its request copy (authentication), and the
// request copy carrying the deadline (timeout); the check makes seven
// (expression evaluation, the resource lookup, its request copy), and the
// emitter's goroutine about three per event (the event, its subject, the
// batch), off the request path.
// otelhttp makes 32 more per request with spans on, on no-op providers.
//
// Over loopback, BenchmarkGateway serves GET /instances/{id} from an
// http.Server on 127.0.0.1 to 16 keep-alive client goroutines in the same
// process: the bare handler, and the full chain (API key, a rate limit,
// a check with a resource lookup, an audit event at Metadata to an
// audit.FileSink, the timeout; no cache) with spans on no-op providers or
// with correlation ids only. With
// go test -run XXX -bench 'Gateway$' -benchmem -count 6 ./platform/
// (medians, load average about 2; cpu-µs/req is the process's CPU time
// per request, client included; allocs/op counts both ends of the
// exchange):
//
//	BenchmarkGateway/raw              27,320 req/s   61 cpu-µs/req   5.3 KB/op   65 allocs/op
//	BenchmarkGateway/paved/spans=on    8,860 req/s  181 cpu-µs/req  12.1 KB/op  121 allocs/op  32% of raw
//	BenchmarkGateway/paved/spans=off  10,710 req/s  151 cpu-µs/req   9.1 KB/op   88 allocs/op  39% of raw
//
// The shares depend on how much of the 2 cores the process gets: in runs
// alongside other builds (load average about 3) the bare handler served
// 13,710 requests a second and the chain 44% (spans on) and 54% (spans
// off) of that, and earlier runs gave 37% and 46%. The chain's
// handlers take 16 µs of CPU a request with spans off and 38 µs with them
// on (go test -cpuprofile, go tool pprof -top -cum): otelhttp about 16 µs
// of that, the authorization check about 9 µs; the emitter's and the
// FileSink's goroutines take about 9 µs an event (the fsync, the
// encoding), and the kernel's loopback writes, the runtime's scheduling
// and the GC the rest of the difference.
//
// BenchmarkLayers builds the chain up one feature at a time. The mux,
// authentication, the rate limit (every client on one key), the check,
// the timeout and the audit middleware with a sink that drops events keep
// 71% of the bare rate together; writing the events to the FileSink,
// which fsyncs each group of them (audit.WithMaxDelay 0, the default),
// takes it to 45%, and otelhttp's spans, 33 allocations a request even on
// a no-op provider, to 37%. With audit.WithMaxDelay(10*time.Millisecond)
// on the sink, the full chain keeps 55% (12,630 req/s). To load a running
// gateway, use examples/loadtest (bounded, loopback only).
package platform
