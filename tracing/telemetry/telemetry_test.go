package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/tracing/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup calls Setup, restores the global providers afterwards and fails
// the test if shutdown fails.
func setup(t *testing.T, opts ...telemetry.Option) func() {
	t.Helper()
	prevTP, prevMP, prevProp := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetTextMapPropagator()
	shutdown, err := telemetry.Setup(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			otel.SetTracerProvider(prevTP)
			otel.SetMeterProvider(prevMP)
			otel.SetTextMapPropagator(prevProp)
		})
	}
	t.Cleanup(stop)
	return stop
}

func clearOTelEnv(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"} {
		t.Setenv(k, "")
	}
}

func TestSetupLocal(t *testing.T) {
	clearOTelEnv(t)
	var out bytes.Buffer
	stop := setup(t, telemetry.WithServiceName("unit"), telemetry.WithStdout(&out))

	_, span := otel.Tracer("test").Start(context.Background(), "local-op")
	if !span.SpanContext().IsValid() || !span.IsRecording() {
		t.Fatal("local setup does not record spans, so logs would have no trace ids")
	}
	span.End()
	if fields := otel.GetTextMapPropagator().Fields(); !slices.Contains(fields, "traceparent") ||
		!slices.Contains(fields, "tracestate") || !slices.Contains(fields, "baggage") {
		t.Fatalf("propagator fields %v, want W3C traceparent, tracestate, baggage", fields)
	}
	stop()

	var got struct {
		Name     string
		Resource []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout span %q: %v", out.String(), err)
	}
	if got.Name != "local-op" {
		t.Fatalf("stdout span name %q", got.Name)
	}
	var service any
	for _, kv := range got.Resource {
		if kv.Key == "service.name" {
			service = kv.Value.Value
		}
	}
	if service != "unit" {
		t.Errorf("service.name = %v", service)
	}
}

func TestSetupOTLP(t *testing.T) {
	clearOTelEnv(t)
	var mu sync.Mutex
	paths := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && len(body) > 0 {
			mu.Lock()
			paths[r.URL.Path]++
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

	stop := setup(t, telemetry.WithServiceName("otlp-test"))
	_, span := otel.Tracer("test").Start(context.Background(), "exported-op")
	span.End()
	c, err := otelx.BreakerCalls(nil, "b")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), "success")
	stop() // flushes

	mu.Lock()
	defer mu.Unlock()
	if paths["/v1/traces"] == 0 || paths["/v1/metrics"] == 0 {
		t.Fatalf("collector received %v, want /v1/traces and /v1/metrics", paths)
	}
}

func TestSetupMetricReader(t *testing.T) {
	clearOTelEnv(t)
	reader := sdkmetric.NewManualReader()
	setup(t, telemetry.WithMetricReader(reader))

	c, err := otelx.RateLimitDecisions(nil, "api") // nil: the global provider Setup installed
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), "limited")
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			found = found || m.Name == "paved.ratelimit.decisions"
		}
	}
	if !found {
		t.Fatalf("paved.ratelimit.decisions not collected: %+v", rm.ScopeMetrics)
	}
}

// TestSetupRejectsBadOptions: a nil Option or reader is an error from
// Setup that changes nothing global, never a silent drop.
func TestSetupRejectsBadOptions(t *testing.T) {
	clearOTelEnv(t)
	tests := []struct {
		name string
		opts []telemetry.Option
		want string
	}{
		{"nil option", []telemetry.Option{telemetry.WithServiceName("s"), nil}, "telemetry: option 1 is nil"},
		{"nil reader", []telemetry.Option{telemetry.WithMetricReader(nil)}, "telemetry: WithMetricReader: nil reader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := otel.GetMeterProvider()
			shutdown, err := telemetry.Setup(context.Background(), tc.opts...)
			if err == nil {
				shutdown(context.Background())
				t.Fatal("Setup accepted the options")
			}
			if err.Error() != tc.want {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			if otel.GetMeterProvider() != prev {
				t.Fatal("a failed Setup changed the global meter provider")
			}
		})
	}
}

func TestSetupBadEnv(t *testing.T) {
	clearOTelEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "no-such-exporter")
	prev := otel.GetTracerProvider()
	shutdown, err := telemetry.Setup(context.Background())
	if err == nil {
		shutdown(context.Background())
		t.Fatal("Setup accepted an unknown exporter")
	}
	if otel.GetTracerProvider() != prev {
		t.Fatal("a failed Setup changed the global tracer provider")
	}
}

// TestSetupMalformedResourceAttributes checks that a malformed entry in
// OTEL_RESOURCE_ATTRIBUTES is ignored, as the OTel specification asks of
// invalid environment settings, rather than stopping the service: the
// well-formed entries and the service name still reach the spans.
func TestSetupMalformedResourceAttributes(t *testing.T) {
	clearOTelEnv(t)
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team=core,broken")
	prevHandler := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) // keep the test output quiet
	defer otel.SetErrorHandler(prevHandler)

	var out bytes.Buffer
	stop := setup(t, telemetry.WithServiceName("unit"), telemetry.WithStdout(&out))
	_, span := otel.Tracer("test").Start(context.Background(), "op")
	span.End()
	stop()
	var got struct {
		Resource []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout span %q: %v", out.String(), err)
	}
	attrs := map[string]any{}
	for _, kv := range got.Resource {
		attrs[kv.Key] = kv.Value.Value
	}
	if attrs["team"] != "core" || attrs["service.name"] != "unit" {
		t.Fatalf("resource %v, want team=core and service.name=unit", attrs)
	}
}

// scrape returns the status and body of GET /metrics on MetricsHandler.
func scrape(t *testing.T) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	telemetry.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Code, w.Body.String()
}

func TestMetricsHandler(t *testing.T) {
	clearOTelEnv(t)
	if code, body := scrape(t); code != http.StatusNotFound || !strings.Contains(body, `"status":404`) {
		t.Fatalf("before Setup: %d %s, want 404 problem+json", code, body)
	}

	stop := setup(t, telemetry.WithServiceName("unit"), telemetry.WithPrometheus())
	c, err := otelx.RateLimitDecisions(nil, "api") // nil: the global provider Setup installed
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), "limited")
	code, body := scrape(t)
	if code != http.StatusOK {
		t.Fatalf("after Setup: %d %s", code, body)
	}
	var found bool
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "paved_ratelimit_decisions_total{") &&
			strings.Contains(line, `decision="limited"`) && strings.Contains(line, `paved_ratelimit_policy="api"`) &&
			strings.HasSuffix(strings.TrimSpace(line), " 1") {
			found = true
		}
	}
	if !found {
		t.Fatalf("paved_ratelimit_decisions_total{decision=\"limited\",paved_ratelimit_policy=\"api\"} 1 not served:\n%s", body)
	}
	if !strings.Contains(body, `service_name="unit"`) {
		t.Errorf("target_info lacks service_name=\"unit\":\n%s", body)
	}

	stop()
	if code, _ := scrape(t); code != http.StatusNotFound {
		t.Fatalf("after shutdown: %d, want 404", code)
	}

	setup(t) // a later Setup without Prometheus serves nothing
	if code, _ := scrape(t); code != http.StatusNotFound {
		t.Fatalf("Setup without WithPrometheus: %d, want 404", code)
	}
}
