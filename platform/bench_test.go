package platform_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/tracing"
)

// discardSink drops events, so the benchmark measures the request path.
type discardSink struct{}

func (discardSink) Name() string                                { return "discard" }
func (discardSink) Write(context.Context, []*audit.Event) error { return nil }
func (discardSink) Close(context.Context) error                 { return nil }

// benchWriter is a ResponseWriter that keeps nothing.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

const benchSpec = `
openapi: 3.0.3
info: {title: Compute, version: "1"}
x-platform:
  authentication: {mode: required}
  rateLimit: {rate: 1000000000/s, key: apiKey}
  audit: {level: metadata}
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

// BenchmarkHandler serves GET /instances/{id} by the bare handler on a
// ServeMux (raw) and through the platform with authentication (an API
// key), a rate limit, an authorization check with a resource lookup, an
// audit event at the Metadata level and a timeout (paved), with tracing
// ids only (spans off) and with spans on a no-op provider.
func BenchmarkHandler(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"i-1"}`))
	})
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", "/instances/i-1", nil)
		req.Header.Set("X-API-Key", aliceKey)
		w := &benchWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	b.Run("raw", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle("GET /instances/{id}", handler)
		run(b, mux)
	})
	instances := map[string]map[string]any{"i-1": {"compartment": "c1"}}
	for _, spans := range []bool{false, true} {
		name := "paved/spans=off"
		if spans {
			name = "paved/spans=on"
		}
		b.Run(name, func(b *testing.B) {
			tr, err := tracing.New(tracing.WithSpans(spans))
			if err != nil {
				b.Fatal(err)
			}
			p, err := platform.Load([]byte(benchSpec),
				platform.WithTracer(tr),
				platform.WithAuthenticator("apiKey", apiKeys(b)),
				platform.WithResolver("instance", resolverOf(instances)),
				platform.WithAudit(audit.WithSink(discardSink{})),
				platform.WithHandler("getInstance", handler))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			run(b, p.Handler())
		})
	}
}
