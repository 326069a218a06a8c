//go:build unix

package platform_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/tracing"
)

// gatewaySpec turns every feature on for GET /instances/{id} but the
// cache, which would answer from memory without reaching the rest of the
// chain's handler: API-key authentication, a rate limit no benchmark
// reaches, a check with a resource lookup, an audit event at the Metadata
// level and a timeout.
const gatewaySpec = `
openapi: 3.0.3
info: {title: Compute, version: "1"}
x-platform:
  authentication: {mode: required, schemes: [apiKey]}
  rateLimit: {rate: 1000000000/s, key: apiKey}
  audit: {level: metadata, type: com.example.instances.get}
  timeout: 5s
paths:
  /instances/{id}:
    get:
      operationId: getInstance
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-platform:
        authorization:
          check: resource("instance", request.pathValue("id")).compartment == principal.tenant
      responses: {"200": {description: the instance}}
`

// gatewayWorkers is the number of client goroutines (and keep-alive
// connections) of BenchmarkGateway: b.SetParallelism(gatewayWorkers /
// GOMAXPROCS), at least one per processor.
const gatewayWorkers = 16

// BenchmarkGateway measures requests per second over a loopback TCP
// connection: a real http.Server on 127.0.0.1, gatewayWorkers client
// goroutines on keep-alive connections, GET /instances/i-1 answered with
// a small JSON object by the bare handler on a ServeMux (raw) and through
// the platform with every feature of gatewaySpec on (paved): the API key
// in X-API-Key, the rate limit, the check with a lookup in an in-memory
// resolver, an audit event at the Metadata level written to an
// audit.FileSink in b.TempDir() (fsynced, in the emitter's goroutine),
// the timeout, and tracing with spans and metrics on no-op providers
// (spans=on, the configuration the >= 60% target is about) or with
// correlation ids and propagation only (spans=off).
// allocs/op counts both ends of the exchange, client included; the
// difference between raw and paved is the chain's.
func BenchmarkGateway(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"i-1","compartment":"c1","state":"running"}`))
	})
	b.Run("raw", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle("GET /instances/{id}", handler)
		runGateway(b, mux)
	})
	for _, spans := range []bool{true, false} {
		name := "paved/spans=on"
		if !spans {
			name = "paved/spans=off"
		}
		b.Run(name, func(b *testing.B) {
			tr, err := tracing.New(tracing.WithSpans(spans),
				tracing.WithTracerProvider(tracenoop.NewTracerProvider()),
				tracing.WithMeterProvider(metricnoop.NewMeterProvider()))
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "audit.jsonl")
			sink, err := audit.NewFileSink(path)
			if err != nil {
				b.Fatal(err)
			}
			instances := map[string]map[string]any{"i-1": {"compartment": "c1"}}
			p, err := platform.Load([]byte(gatewaySpec),
				platform.WithTracer(tr),
				platform.WithMeterProvider(metricnoop.NewMeterProvider()),
				platform.WithAuthenticator("apiKey", apiKeys(b)),
				platform.WithResolver("instance", resolverOf(instances)),
				platform.WithAudit(audit.WithSink(sink)),
				platform.WithHandler("getInstance", handler))
			if err != nil {
				sink.Close(context.Background())
				b.Fatal(err)
			}
			n := runGateway(b, p.Handler())
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			// The default mode drops events a busy sink cannot take (and
			// writes a marker saying how many): report the share written.
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			lines := bytes.Count(data, []byte("\n"))
			if lines == 0 {
				b.Fatal("no audit event written")
			}
			b.ReportMetric(float64(lines)/float64(n), "events/req")
		})
	}
}

// runGateway serves h on a loopback listener and sends it b.N requests
// from gatewayWorkers goroutines. It reports req/s, and the process's CPU
// time (user and system) per request, client included, which other
// processes on a shared machine disturb less than the rate; it returns
// the number of requests sent.
func runGateway(b *testing.B, h http.Handler) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
	}()
	tr := &http.Transport{
		MaxIdleConns:        gatewayWorkers,
		MaxIdleConnsPerHost: gatewayWorkers,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/instances/i-1"

	var sent atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(max(1, gatewayWorkers/runtime.GOMAXPROCS(0)))
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.Header.Set("X-API-Key", aliceKey)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			sent.Add(1)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
	return sent.Load()
}

// BenchmarkLayers is BenchmarkGateway's chain built up one feature at a
// time, over loopback in the same way, to show what each costs: the
// platform's mux with tracing ids only (mux), then API-key
// authentication, the rate limit, the check with a resource lookup, the
// timeout, an audit event to a sink that drops it, the same event to an
// audit.FileSink, and spans on no-op providers (the full chain of
// BenchmarkGateway/paved/spans=on); last, the full chain with a FileSink
// that groups events for up to 10ms per fsync (audit.WithMaxDelay), as a
// busy gateway would configure it.
func BenchmarkLayers(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"i-1","compartment":"c1","state":"running"}`))
	})
	const (
		head  = "openapi: 3.0.3\ninfo: {title: Compute, version: \"1\"}\nx-platform:\n"
		paths = "paths:\n  /instances/{id}:\n    get:\n      operationId: getInstance\n" +
			"      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n" +
			"      responses: {\"200\": {description: the instance}}\n"
		allow = "      x-platform: {authorization: {check: 'true'}}\n"
		check = "      x-platform:\n        authorization:\n" +
			"          check: resource(\"instance\", request.pathValue(\"id\")).compartment == principal.tenant\n"
		authn  = "  authentication: {mode: required, schemes: [apiKey]}\n"
		limit  = "  rateLimit: {rate: 1000000000/s, key: apiKey}\n"
		tmout  = "  timeout: 5s\n"
		auditM = "  audit: {level: metadata}\n"
	)
	layers := []struct {
		name  string
		spec  string
		sink  string // "", "discard", "file" or "file-10ms"
		spans bool
	}{
		{"1-mux", head + "  authentication: {mode: none}\n" + paths, "", false},
		{"2-authn", head + authn + paths + allow, "", false},
		{"3-ratelimit", head + authn + limit + paths + allow, "", false},
		{"4-check", head + authn + limit + paths + check, "", false},
		{"5-timeout", head + authn + limit + tmout + paths + check, "", false},
		{"6-audit-discard", head + authn + limit + tmout + auditM + paths + check, "discard", false},
		{"7-audit-file", head + authn + limit + tmout + auditM + paths + check, "file", false},
		{"8-spans", head + authn + limit + tmout + auditM + paths + check, "file", true},
		{"9-spans-maxdelay", head + authn + limit + tmout + auditM + paths + check, "file-10ms", true},
	}
	b.Run("raw", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle("GET /instances/{id}", handler)
		runGateway(b, mux)
	})
	for _, l := range layers {
		b.Run(l.name, func(b *testing.B) {
			tr, err := tracing.New(tracing.WithSpans(l.spans),
				tracing.WithTracerProvider(tracenoop.NewTracerProvider()),
				tracing.WithMeterProvider(metricnoop.NewMeterProvider()))
			if err != nil {
				b.Fatal(err)
			}
			opts := []platform.Option{
				platform.WithTracer(tr),
				platform.WithMeterProvider(metricnoop.NewMeterProvider()),
				platform.WithAuthenticator("apiKey", apiKeys(b)),
				platform.WithResolver("instance", resolverOf(map[string]map[string]any{"i-1": {"compartment": "c1"}})),
				platform.WithHandler("getInstance", handler),
			}
			switch l.sink {
			case "discard":
				opts = append(opts, platform.WithAudit(audit.WithSink(discardSink{})))
			case "file", "file-10ms":
				var fo []audit.FileOption
				if l.sink == "file-10ms" {
					fo = append(fo, audit.WithMaxDelay(10*time.Millisecond))
				}
				sink, err := audit.NewFileSink(filepath.Join(b.TempDir(), "audit.jsonl"), fo...)
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, platform.WithAudit(audit.WithSink(sink)))
			}
			p, err := platform.Load([]byte(l.spec), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			runGateway(b, p.Handler())
		})
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
