package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/tracing"
)

// The gateway fronts the upstream demo service. Each API route is
// registered on the gateway's own ServeMux, so per-route middleware sees
// r.Pattern ("POST /instances/{id}/terminate") and applies per-operation
// policies; the outer chain wraps every request, matched or not.
//
// Each paved feature plugs in at one of three places:
//   - outer:     middleware for every request (tracing, access log),
//   - per route: middleware for API operations (rate limits, authz, audit),
//   - transport: http.RoundTripper wrappers for calls to the upstream
//     (tracing, retry, breaker).

// errUpstream is what a client sees when the upstream cannot be reached;
// the cause is logged, never sent.
var errUpstream = paved.NewError(http.StatusBadGateway, "gateway: upstream unavailable")

// errUpstreamTimeout is what a client sees when the connection to the
// upstream timed out before the route's deadline.
var errUpstreamTimeout = paved.NewError(http.StatusGatewayTimeout, "gateway: upstream timed out")

type gatewayConfig struct {
	upstream  *url.URL
	transport http.RoundTripper // to the upstream, with its resilience chain
	admin     http.RoundTripper // to the upstream's fault switch: plain, so it works while the breaker is open
	logger    *slog.Logger
	tracer    *tracing.Tracer
	limits    func(http.Handler) http.Handler // per-route rate limits; nil: none
	access    *authz.Authorizer               // authentication and rules per route
	trail     *audit.Emitter                  // an audit event per API call; nil: none
	instances *cache.ResponseCache            // caches GET /instances/{id}; nil: no cache
	metrics   http.Handler                    // serves GET /metrics when not nil
	timeouts  routeTimeouts                   // per-route deadlines replacing the defaults; nil: defaults
}

// newGateway returns the gateway's handler. It fails when a route has no
// authorization rule (and is not public), or a rule names no route.
func newGateway(cfg gatewayConfig) (http.Handler, error) {
	// Tracing is outermost, so the access log line and every error
	// response carry the correlation and trace ids.
	outer := paved.Chain(
		cfg.tracer.Middleware,
		cfg.tracer.AccessLog, // route, status, bytes, duration; no paths, queries or headers
	)
	// Per API operation: the audit event first, so rejections are in the
	// trail too; then rate limits (429 before any other work), then
	// authentication and authorization (401, 403), which tell the audit
	// event who called and how the decision went.
	audited := func(next http.Handler) http.Handler { return next }
	if cfg.trail != nil {
		audited = cfg.trail.Middleware
	}
	perRoute := paved.Chain(audited, cfg.limits, cfg.access.Middleware)

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(cfg.upstream)
			pr.SetXForwarded()
		},
		Transport: cfg.transport, // retry, tracing, breaker: see upstream_client.go
		ModifyResponse: func(resp *http.Response) error {
			// The gateway's middleware already set the correlation header;
			// the upstream's copy would duplicate it.
			resp.Header.Del(cfg.tracer.Header())
			return nil
		},
		ErrorLog: slog.NewLogLogger(cfg.logger.Handler(), slog.LevelWarn),
		// Every path writes a status from the error vocabulary: returning
		// without writing would send an implicit 200 OK with an empty body.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if cerr := r.Context().Err(); cerr != nil {
				// The client went away (499 in the access log; nobody
				// reads the answer) or the route's deadline passed (504).
				if errors.Is(cerr, context.DeadlineExceeded) {
					cfg.logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream call passed the route's deadline",
						slog.String("route", r.Pattern), slog.String("error", err.Error()))
				}
				paved.WriteError(w, r, cerr)
				return
			}
			if _, ok := errors.AsType[statusError](err); ok {
				// An error of the vocabulary, such as an open breaker:
				// 503 with Retry-After (the breaker logged its opening
				// once).
				paved.WriteError(w, r, err)
				return
			}
			cfg.logger.LogAttrs(r.Context(), slog.LevelWarn, "upstream call failed",
				slog.String("route", r.Pattern), slog.String("error", err.Error()))
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				paved.WriteError(w, r, errUpstreamTimeout)
				return
			}
			paved.WriteError(w, r, errUpstream)
		},
	}

	mux := http.NewServeMux()
	var patterns []string // every route served, for the authorization check
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		patterns = append(patterns, pattern)
	}
	for _, rt := range apiRoutes {
		var h http.Handler = proxy
		switch {
		case cfg.instances == nil:
		case rt.pattern == "GET /instances/{id}":
			// Cached briefly, inside the rate limits: one upstream call
			// per instance however many clients ask, Age on every
			// response, 304 for a matching If-None-Match.
			h = cfg.instances.Middleware(proxy)
		case rt.pattern == "POST /instances/{id}/terminate":
			h = invalidates(cfg.instances, proxy)
		}
		handle(rt.pattern, perRoute(withDeadline(cfg.timeouts.timeout(rt), h)))
	}
	// The upstream's fault switch, reachable through the gateway for
	// admins, without rate limits.
	adminProxy := withDeadline(adminTimeout, &httputil.ReverseProxy{
		Rewrite:      proxy.Rewrite,
		Transport:    cfg.admin,
		ErrorLog:     proxy.ErrorLog,
		ErrorHandler: proxy.ErrorHandler,
	})
	for _, pattern := range []string{"GET /admin/faults", "POST /admin/faults", "DELETE /admin/faults"} {
		handle(pattern, audited(cfg.access.Middleware(adminProxy)))
	}
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	if cfg.metrics != nil {
		handle("GET /metrics", cfg.metrics)
	} else {
		patterns = append(patterns, "GET /metrics") // public by the rules, served or not
	}
	// Start-up refuses a route without rules, or rules for no route.
	if err := cfg.access.Check(patterns...); err != nil {
		return nil, err
	}
	return outer(paved.ProblemMux(mux)), nil // 404 and 405 as problem+json
}

// statusError is an error that declares its HTTP status, the contract of
// paved's error vocabulary.
type statusError interface {
	error
	HTTPStatus() int
}

// invalidates serves next and, when it succeeds, drops the cached
// GET /instances/{id}, so the next read sees the change at once.
func invalidates(rc *cache.ResponseCache, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := paved.NewResponseWriter(w)
		next.ServeHTTP(rw, r)
		if rw.Status() < 400 {
			rc.Invalidate("/instances/" + r.PathValue("id"))
		}
	})
}
