package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/paved-go/paved/tracing"
)

func TestHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := tracing.NewHandler(slog.NewJSONHandler(&buf, nil))
	results := func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerAddsIDs(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	tests := []struct {
		name string
		ctx  context.Context
		want map[string]string
	}{
		{"none", context.Background(), map[string]string{}},
		{"correlation only", tracing.WithCorrelationID(context.Background(), "c-1"), map[string]string{"correlation_id": "c-1"}},
		{"span only", ctx, map[string]string{"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String()}},
		{"both", tracing.WithCorrelationID(ctx, "c-2"), map[string]string{
			"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(), "correlation_id": "c-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			// Six attributes fill a record's inline storage, so the ids
			// must go to its overflow slice.
			logger := slog.New(tracing.NewHandler(slog.NewJSONHandler(&buf, nil))).With("svc", "x")
			logger.InfoContext(tc.ctx, "hello", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6)
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"trace_id", "span_id", "correlation_id"} {
				want, ok := tc.want[k]
				got, has := m[k]
				if ok != has || (ok && got != want) {
					t.Errorf("%s = %v (present %v), want %q (present %v)", k, got, has, want, ok)
				}
			}
			if m["svc"] != "x" || m["f"] != float64(6) {
				t.Errorf("record attributes lost: %v", m)
			}
		})
	}
}

// TestHandlerRecordReuse checks that adding ids does not write into a
// record the caller shares (slog's Clone contract).
func TestHandlerRecordReuse(t *testing.T) {
	var buf bytes.Buffer
	h := tracing.NewHandler(slog.NewJSONHandler(&buf, nil))
	r := slog.NewRecord(testTime, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6))
	ctx := tracing.WithCorrelationID(context.Background(), "one")
	if err := h.Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(tracing.WithCorrelationID(context.Background(), "two"), r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"correlation_id":"one"`) ||
		!strings.Contains(lines[1], `"correlation_id":"two"`) || strings.Contains(lines[1], `"one"`) {
		t.Fatalf("records interfered:\n%s", buf.String())
	}
	if r.NumAttrs() != 6 {
		t.Fatalf("caller's record now has %d attributes, want 6", r.NumAttrs())
	}
}

func TestLoggers(t *testing.T) {
	ctx := tracing.WithCorrelationID(context.Background(), "c-9")

	var console bytes.Buffer
	tracing.NewConsoleLogger(&console).InfoContext(ctx, "ready", "port", 8080)
	out := console.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("console logger coloured a non-terminal: %q", out)
	}
	if !strings.Contains(out, "ready") || !strings.Contains(out, "correlation_id=c-9") {
		t.Errorf("console line = %q", out)
	}

	var js bytes.Buffer
	tracing.NewLogger(&js).InfoContext(ctx, "ready") // a buffer is no terminal: JSON
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["correlation_id"] != "c-9" || m["msg"] != "ready" {
		t.Errorf("NewLogger on a buffer = %q (%v)", js.String(), err)
	}
	if tracing.IsTerminal(&js) {
		t.Error("a buffer is a terminal")
	}
}

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
