package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/breaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// quiet keeps transition log lines out of the test output.
var quiet = breaker.WithLogger(slog.New(slog.DiscardHandler))

func mustNew(t testing.TB, name string, opts ...breaker.Option) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(name, append([]breaker.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRegistry(t testing.TB, opts ...breaker.Option) *breaker.Registry {
	t.Helper()
	r, err := breaker.NewRegistry(append([]breaker.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func succeed(context.Context) error { return nil }
func fail(context.Context) error    { return errBoom }

// openErr returns the *OpenError in err's chain, failing the test if
// there is none.
func openErr(t *testing.T, err error) *breaker.OpenError {
	t.Helper()
	oe, ok := errors.AsType[*breaker.OpenError](err)
	if !ok {
		t.Fatalf("err = %v, want an *OpenError", err)
	}
	return oe
}

// logRecorder is a slog.Handler keeping each record as one line
// "LEVEL message key=value ...", for exact comparisons.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, sb.String())
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) Lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// meter is an SDK MeterProvider with a manual reader.
type meter struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func newMeter(t testing.TB) meter {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return meter{mp, r}
}

// calls returns paved.breaker.calls of breaker name by outcome.
func (m meter) calls(t testing.TB, name string) map[string]int64 {
	return m.points(t, "paved.breaker.calls", name, "outcome")
}

// states returns paved.breaker.state of breaker name by state.
func (m meter) states(t testing.TB, name string) map[string]int64 {
	return m.points(t, "paved.breaker.state", name, "state")
}

func (m meter) points(t testing.TB, metric, name, key string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != metric {
				continue
			}
			var dps []metricdata.DataPoint[int64]
			switch d := md.Data.(type) {
			case metricdata.Sum[int64]:
				dps = d.DataPoints
			case metricdata.Gauge[int64]:
				dps = d.DataPoints
			}
			for _, dp := range dps {
				if v, _ := dp.Attributes.Value(attribute.Key("paved.breaker.name")); v.AsString() != name {
					continue
				}
				k, _ := dp.Attributes.Value(attribute.Key(key))
				out[k.AsString()] += dp.Value
			}
		}
	}
	return out
}
