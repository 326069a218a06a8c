package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/redisidempotency"
	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
	"github.com/paved-go/paved/tracing"
)

// The gateway fronts the upstream demo service. What each API operation
// gets (authentication, authorization, rate limits, audit, cache,
// timeout, the upstream with its breaker and retries) is written in
// gateway.yaml; platform.Load reads it and builds every operation's
// handler, and this file gives the document what it names (the "apiKey"
// scheme, the "instance" resolver, the health handler, where audit events
// go) and mounts the operations on the gateway's own ServeMux, next to
// /metrics, behind tracing and the access log.
//
// Go code keeps what a document cannot say: the limit per client address
// (an operation has one rateLimit), the last-good fallback of
// GET /instances, fresh reads after a terminate (freshness.go), and with
// -redis the state shared through Redis (the per-address limit, the
// document's per-key limits (platform.WithLimiters), idempotency records
// (platform.WithIdempotency), instance lookups, a breaker).

type gatewayConfig struct {
	spec      []byte   // the OpenAPI document, ${UPSTREAM} replaced
	upstream  *url.URL // for instance lookups
	transport http.RoundTripper
	// fallback answers failed or rejected upstream calls; nil: none.
	fallback func(*http.Request, error) (*http.Response, error)
	logger   *slog.Logger
	tracer   *tracing.Tracer
	rdb      redis.UniversalClient // -redis; nil: state is per process
	audit    []audit.Option        // the emitter's sinks and settings
	ipLimit  func(http.Handler) http.Handler
	limiter  *overload.Limiter  // the adaptive limit of the API routes; nil: none
	throttle *overload.Throttle // client-side throttling of upstream calls; nil: none
	metrics  http.Handler       // serves GET /metrics when not nil
}

// newGateway loads the document and returns the gateway's handler and a
// function that releases what it holds (flushing the audit trail). A
// document the platform cannot serve as written is a *platform.LoadError
// listing every problem with its JSON pointer.
func newGateway(cfg gatewayConfig) (http.Handler, func(context.Context) error, error) {
	keys, err := newAPIKeys()
	if err != nil {
		return nil, nil, err
	}
	// Lookups take the same way to the upstream as proxied calls, below
	// the per-operation stack.
	client := &http.Client{Transport: cfg.tracer.Transport(cfg.transport)}
	resolve, releaseLookups, err := newInstanceResolver(cfg.upstream, client, cfg.logger, cfg.rdb)
	if err != nil {
		return nil, nil, err
	}
	opts := []platform.Option{
		platform.WithName("gateway"),
		platform.WithLogger(cfg.logger),
		platform.WithTracer(cfg.tracer),
		platform.WithAuthenticator("apiKey", keys),
		platform.WithResolver("instance", resolve),
		platform.WithPermissions(permissions),
		platform.WithAuthz(authz.WithOutageStatus(http.StatusServiceUnavailable)),
		platform.WithAudit(cfg.audit...),
		platform.WithTransport(cfg.transport),
		platform.WithHandler("health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})),
	}
	if cfg.fallback != nil {
		opts = append(opts, platform.WithUpstreamFallback(cfg.fallback))
	}
	if cfg.rdb != nil {
		// The document's rate limits in Redis buckets, shared by every
		// gateway on that Redis: two gateways let a key launch twice a
		// minute in all, not twice each.
		opts = append(opts, platform.WithLimiters(func(policy string, limit rate.Limit, burst int) (ratelimit.Decider, error) {
			return redisrate.New("gateway-"+policy, cfg.rdb, limit, burst, redisrate.WithLogger(cfg.logger))
		}))
	}
	if cfg.rdb != nil {
		// Idempotency records in Redis: a retry that reaches another
		// gateway still gets the launch's stored response.
		store, err := redisidempotency.New(cfg.rdb)
		if err != nil {
			releaseLookups()
			return nil, nil, err
		}
		opts = append(opts, platform.WithIdempotency(idempotency.WithStore(store)))
	}
	if cfg.throttle != nil {
		opts = append(opts, platform.WithUpstreamLayer(throttled(cfg.throttle, cfg.fallback)))
	}
	p, err := platform.Load(cfg.spec, opts...)
	if err != nil {
		releaseLookups()
		return nil, nil, err
	}
	marks := newStaleMarks() // see freshness.go
	mux := http.NewServeMux()
	for _, rt := range p.Routes() {
		h := rt.Handler
		switch {
		case rt.ID == "terminateInstance" && rt.Pattern == "POST /instances/{id}/terminate":
			h = marks.invalidates(h)
		case rt.ID == "getInstance" && rt.Pattern == "GET /instances/{id}":
			h = marks.revalidates(h)
		}
		if _, limited := rateLimitOf(p.Document(), rt); limited && cfg.ipLimit != nil {
			// Where the document limits per key, the gateway limits per
			// address too; rateLimit: null (health, the fault switch)
			// turns both off.
			h = cfg.ipLimit(h)
		}
		if cfg.limiter != nil && !unlimited[rt.Pattern] {
			// Outermost: a shed request costs nothing else and never
			// counts as a failure of the operation's breaker.
			h = cfg.limiter.Middleware(h)
		}
		mux.Handle(rt.Pattern, h)
	}
	if cfg.metrics != nil {
		mux.Handle("GET /metrics", cfg.metrics)
	}
	// Tracing is outermost, so the access log line and every error
	// response carry the correlation and trace ids.
	handler := paved.Chain(
		cfg.tracer.Middleware,
		cfg.tracer.AccessLog, // route, status, bytes, duration; no paths, queries or headers
	)(paved.ProblemMux(mux)) // 404 and 405 as problem+json
	closeAll := func(ctx context.Context) error {
		err := p.Close(ctx) // after the server shut down: every queued audit event is written
		releaseLookups()
		return err
	}
	return handler, closeAll, nil
}
