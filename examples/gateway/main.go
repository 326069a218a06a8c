// Command gateway is paved's demo API gateway: a small "compute instances"
// API behind a gateway driven by an OpenAPI document, gateway.yaml, whose
// x-platform extension gives each operation paved's features (package
// platform), running on embedded defaults with no outside services.
//
//	go run ./examples/gateway            # listens on 127.0.0.1:8080
//	go run ./examples/gateway -addr 127.0.0.1:9090
//	go run ./examples/gateway -spec my-gateway.yaml                # another document
//	go run ./examples/gateway -route-timeout 'GET /instances=2s'   # an operation's deadline, retries included
//	go run ./examples/gateway -admin ''                            # no admin listener
//
// A document the platform cannot serve stops the gateway before it
// listens, with every problem and its JSON pointer.
//
// An admin listener (-admin, default 127.0.0.1:9090) serves the live
// status page of every breaker, limit, cache, queue and idempotency guard
// (package status) and the upstream's fault control, for drills
// (package faults).
//
// It prints the URL and ready-made curl commands, logs every request with
// its trace and correlation ids (colour on a terminal, JSON otherwise),
// serves Prometheus metrics on /metrics, exports traces over OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, and shuts down cleanly on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/status"
	"github.com/paved-go/paved/tracing"
	"github.com/paved-go/paved/tracing/telemetry"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the whole program: it serves until ctx is done, then shuts down.
// It returns the process exit code: 0 after a clean shutdown, 1 when the
// gateway cannot start or stop cleanly, 2 for bad flags. ready, when not
// nil, is called with the gateway's address and the admin listener's (""
// without one) once they accept connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr, admin string)) int {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`address` the gateway listens on")
	adminAddr := fs.String("admin", "127.0.0.1:9090", "`address` of the admin listener: the status page and the fault control, unauthenticated, so keep it on loopback; empty: none")
	specFile := fs.String("spec", "", "`file` of the OpenAPI document (YAML or JSON) to serve instead of the embedded gateway.yaml; "+upstreamVar+" in it is the demo service's URL")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long in-flight requests get to finish on shutdown")
	breakerOpen := fs.Duration("breaker-open", 10*time.Second, "how long the upstream breakers stay open before probing (sets the document's x-platform upstream.breaker.openFor)")
	redisAddr := fs.String("redis", "", "`address` of a Redis server (host:port) for state shared by several gateways: the rate limit per client address, instance lookups and an upstream breaker; default: none, state is per process")
	auditDir := fs.String("audit-dir", "", "`directory` of the audit trail (audit.jsonl); default: a new temporary directory")
	timeouts := routeTimeouts{}
	fs.Var(timeouts, "route-timeout", "an operation's deadline for the whole upstream call, retries included, as `PATTERN=DURATION` (repeatable; sets its x-platform timeout, in gateway.yaml 5s for reads, 10s for writes)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the problem and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *shutdownTimeout <= 0 || *breakerOpen <= 0 {
		fmt.Fprintln(stderr, "gateway: -shutdown-timeout and -breaker-open must be positive")
		return 2
	}
	breakerSet := false
	fs.Visit(func(f *flag.Flag) { breakerSet = breakerSet || f.Name == "breaker-open" })
	spec, specName := embeddedSpec, "gateway.yaml (embedded)"
	if *specFile != "" {
		b, err := os.ReadFile(*specFile)
		if err != nil {
			fmt.Fprintf(stderr, "gateway: -spec: %v\n", err)
			return 2
		}
		spec, specName = b, *specFile
	}

	logger := tracing.NewLogger(stderr) // colour on a terminal, JSON otherwise

	// OpenTelemetry: local by default; OTLP export when the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT is set. Metrics are also served in the
	// Prometheus format on /metrics.
	shutdownTelemetry, err := telemetry.Setup(ctx,
		telemetry.WithServiceName("paved-gateway"),
		telemetry.WithPrometheus())
	if err != nil {
		fmt.Fprintf(stderr, "gateway: telemetry: %v\n", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTelemetry(sctx); err != nil {
			logger.Warn("telemetry shutdown", slog.String("error", err.Error()))
		}
	}()
	tracer, err := tracing.New(
		tracing.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }),
		tracing.WithLogger(logger))
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}

	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "gateway: upstream: %v\n", err)
		return 1
	}
	upstreamURL := &url.URL{Scheme: "http", Host: upLn.Addr().String()}
	o := overrides{upstream: upstreamURL.String(), timeouts: timeouts}
	if breakerSet {
		o.breakerOpen = *breakerOpen
	}
	if spec, err = prepare(spec, o); err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: %s: %v\n", specName, err)
		return 2
	}

	// paved's default base transport: a connection pool sized for
	// service-to-service calls. Each operation's timeout bounds its calls,
	// retries included, so no per-connection timeout is set here.
	transport := paved.DefaultTransport()
	defer transport.CloseIdleConnections()

	var rdb redis.UniversalClient
	if *redisAddr != "" {
		// ContextTimeoutEnabled: the paved Redis packages put a short
		// deadline on each call, so a dead Redis costs no latency.
		rdb = redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true})
		defer rdb.Close()
		logger.Info("sharing state through Redis", slog.String("redis", *redisAddr))
	}
	toUpstream, fallback, err := newUpstreamTransport(upstreamConfig{
		base: transport, logger: logger, openDuration: *breakerOpen, rdb: rdb,
	})
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}
	ipLimit, err := newIPLimit(logger, rdb)
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: rate limits: %v\n", err)
		return 1
	}
	limiter, err := newLimiter(logger)
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: overload: %v\n", err)
		return 1
	}
	throttle, err := newThrottle(logger)
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: overload: %v\n", err)
		return 1
	}

	if *auditDir == "" {
		if *auditDir, err = os.MkdirTemp("", "paved-gateway-audit-"); err != nil {
			upLn.Close()
			fmt.Fprintf(stderr, "gateway: audit: %v\n", err)
			return 1
		}
	}
	auditOpts, closeAuditFile, err := auditOptions(*auditDir, logger)
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: audit: %v\n", err)
		return 1
	}
	// Last: the platform's audit emitter closes the file when it has one;
	// a document without audit sections has none.
	defer closeAuditFile()

	handler, closeGateway, err := newGateway(gatewayConfig{
		spec:      spec,
		upstream:  upstreamURL,
		transport: toUpstream,
		fallback:  fallback,
		logger:    logger,
		tracer:    tracer,
		rdb:       rdb,
		audit:     auditOpts,
		ipLimit:   ipLimit,
		limiter:   limiter,
		throttle:  throttle,
		metrics:   telemetry.MetricsHandler(),
	})
	if err != nil {
		upLn.Close()
		// A *platform.LoadError lists every problem with its JSON pointer.
		fmt.Fprintf(stderr, "gateway: %s: %v\n", specName, err)
		return 1
	}
	defer func() { // after the servers shut down: every queued audit event is written
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := closeGateway(cctx); err != nil {
			logger.Error("gateway did not close cleanly", slog.String("error", err.Error()))
		}
	}()

	gwLn, err := net.Listen("tcp", *addr)
	if err != nil {
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}

	// The upstream's fault injector: no faults until an admin sets some,
	// through the gateway's /admin/faults or the status page.
	inj, err := faults.New("upstream", faults.WithLogger(logger))
	if err != nil {
		gwLn.Close()
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}
	upHandler, err := newUpstream(newStore(time.Now), inj)
	if err != nil {
		gwLn.Close()
		upLn.Close()
		fmt.Fprintf(stderr, "gateway: upstream: %v\n", err)
		return 1
	}
	servers := []namedServer{}
	var adminLn net.Listener
	var admin *http.Server
	if *adminAddr != "" {
		page, err := status.New(status.WithTitle("paved gateway"), status.WithFaults(inj))
		if err == nil {
			adminLn, err = net.Listen("tcp", *adminAddr)
		}
		if err != nil {
			gwLn.Close()
			upLn.Close()
			fmt.Fprintf(stderr, "gateway: admin: %v\n", err)
			return 1
		}
		admin = &http.Server{Handler: page, ReadHeaderTimeout: 5 * time.Second}
		admin.RegisterOnShutdown(page.Close) // ends the page's event streams
		servers = append(servers, namedServer{"admin", admin})
	}

	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	upstream := &http.Server{
		Handler:           tracer.Middleware(upHandler),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          errLog,
	}
	gateway := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}

	errc := make(chan error, 3)
	go func() { errc <- upstream.Serve(upLn) }()
	go func() { errc <- gateway.Serve(gwLn) }()
	adminURL := ""
	if admin != nil {
		admin.ErrorLog = errLog
		go func() { errc <- admin.Serve(adminLn) }()
		adminURL = "http://" + dialable(adminLn.Addr())
	}

	base := "http://" + dialable(gwLn.Addr())
	printBanner(stdout, base, adminURL, specName, filepath.Join(*auditDir, auditFile))
	logger.Info("gateway started", slog.String("url", base), slog.String("admin", adminURL), slog.String("spec", specName), slog.String("upstream", upstreamURL.String()))
	if ready != nil {
		ready(dialable(gwLn.Addr()), strings.TrimPrefix(adminURL, "http://"))
	}

	code := 0
	select {
	case <-ctx.Done():
	case err := <-errc:
		logger.Error("server stopped unexpectedly", slog.String("error", err.Error()))
		code = 1
	}

	logger.Info("shutting down", slog.Duration("deadline", *shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	// The gateway first, so in-flight requests can still reach the upstream.
	for _, s := range append([]namedServer{{"gateway", gateway}, {"upstream", upstream}}, servers...) {
		if err := s.srv.Shutdown(sctx); err != nil {
			logger.Error("shutdown did not finish in time; closing connections",
				slog.String("server", s.name), slog.String("error", err.Error()))
			s.srv.Close()
			code = 1
		}
	}
	if code == 0 {
		logger.Info("stopped")
	}
	return code
}

type namedServer struct {
	name string
	srv  *http.Server
}

// dialable turns a listener address into one a client can connect to: an
// unspecified host (":8080", "[::]:8080") becomes loopback.
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

func printBanner(w io.Writer, base, admin, spec, trail string) {
	page := "Status page: none (-admin '')"
	if admin != "" {
		page = "Status page: " + admin + "/ (breakers, limits, caches, queues, idempotency, faults; JSON at " + admin + "/status.json)"
	}
	fmt.Fprintf(w, `paved gateway listening on %[1]s
%[4]s
API: %[3]s (each operation's x-platform says what it gets: keys, checks, limits, audit, cache, upstream)
Audit trail: %[2]s (verify it: go run ./cmd/auditverify %[2]s)

Demo API keys (X-API-Key): alice-key (operator, compartment prod),
bob-key (operator, dev), carol-key (viewer, dev), admin-key (admin).

Try:
  curl -s %[1]s/instances?compartment=dev -H 'X-API-Key: bob-key'
  curl -s %[1]s/instances/inst-0003 -H 'X-API-Key: bob-key'
  curl -s -X POST %[1]s/instances -H 'X-API-Key: bob-key' -H 'Content-Type: application/json' -H "Idempotency-Key: \"launch-$RANDOM$RANDOM\"" -d '{"compartment":"dev","displayName":"web-3"}'
  curl -s -X POST %[1]s/instances/inst-0003/terminate -H 'X-API-Key: bob-key'
  curl -s -i %[1]s/instances/inst-0001 -H 'X-API-Key: alice-key' -H 'X-Correlation-ID: abc'
  curl -s %[1]s/healthz
  curl -s %[1]s/metrics

Access: another compartment's instance is 403, no key is 401:
  curl -si -X POST %[1]s/instances/inst-0001/terminate -H 'X-API-Key: bob-key'
  curl -si %[1]s/instances/inst-0001

Rate limits: 2 launches a minute per API key; the third gets 429:
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' -X POST %[1]s/instances -H 'X-API-Key: bob-key' -H 'Content-Type: application/json' -H "Idempotency-Key: $i$RANDOM" -d '{"compartment":"dev"}'; done

Idempotency: a launch needs an Idempotency-Key; a retry with it gets the same instance:
  curl -si -X POST %[1]s/instances -H 'X-API-Key: alice-key' -H 'Content-Type: application/json' -H 'Idempotency-Key: "launch-1"' -d '{"compartment":"prod"}'   # twice

Response cache: Age grows, If-None-Match gets 304:
  curl -si %[1]s/instances/inst-0002 -H 'X-API-Key: alice-key' | grep -iE '^(HTTP|age|etag)'

Make the upstream fail and watch the breaker on the status page (see the README):
  curl -s -X POST %[1]s/admin/faults -H 'X-API-Key: admin-key' -H 'Content-Type: application/json' -d '{"rules":[{"name":"drill","percent":100,"status":503}]}'
  curl -si %[1]s/instances -H 'X-API-Key: admin-key'        # the last good list, X-Paved-Fallback
  curl -si %[1]s/instances/inst-0003 -H 'X-API-Key: admin-key'   # 503 + Retry-After once the breaker is open
  curl -s -X DELETE %[1]s/admin/faults -H 'X-API-Key: admin-key'

Press Ctrl-C to stop.
`, base, trail, spec, page)
}
