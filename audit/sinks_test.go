package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/paved-go/paved/audit"
)

func TestSlogSink(t *testing.T) {
	var buf bytes.Buffer
	em, err := audit.New("api", audit.WithSink(audit.NewSlogSink(slog.New(slog.NewJSONHandler(&buf, nil)))))
	if err != nil {
		t.Fatal(err)
	}
	em.Emit(context.Background(), &audit.Event{Type: "com.example.x", Subject: "instance/i-1",
		Data: audit.Data{Principal: &audit.Principal{ID: "alice"}}})
	em.Emit(context.Background(), &audit.Event{Type: "com.example.y"})
	closeEmitter(t, em)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != audit.SlogMessage || rec["level"] != "INFO" || rec["type"] != "com.example.x" || rec["sequence"] != "1" ||
		rec["subject"] != "instance/i-1" || at(rec, "data.principal.id") != "alice" || rec["id"] == "" || rec["source"] != "api" {
		t.Errorf("record %s", lines[0])
	}
	if strings.Contains(lines[1], `"subject"`) {
		t.Errorf("empty subject logged: %s", lines[1])
	}

	// A text handler prints the data as JSON text.
	buf.Reset()
	em, err = audit.New("api", audit.WithSink(audit.NewSlogSink(slog.New(slog.NewTextHandler(&buf, nil)))))
	if err != nil {
		t.Fatal(err)
	}
	em.Emit(context.Background(), &audit.Event{Data: audit.Data{Principal: &audit.Principal{ID: "bob"}}})
	closeEmitter(t, em)
	if !strings.Contains(buf.String(), `data="{\"principal\":{\"id\":\"bob\"}`) {
		t.Errorf("text record %s", buf.String())
	}
}

// logProcessor keeps the records an OTel LoggerProvider emits.
type logProcessor struct {
	mu      sync.Mutex
	records []sdklog.Record
	enabled bool
}

func (p *logProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return p.enabled }
func (p *logProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r.Clone())
	return nil
}
func (p *logProcessor) Shutdown(context.Context) error   { return nil }
func (p *logProcessor) ForceFlush(context.Context) error { return nil }

func TestOTelSink(t *testing.T) {
	proc := &logProcessor{enabled: true}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	defer lp.Shutdown(context.Background())
	em, err := audit.New("api", audit.WithSink(audit.NewOTelSink(lp)))
	if err != nil {
		t.Fatal(err)
	}
	em.Emit(context.Background(), &audit.Event{Type: "com.example.x", Subject: "instance/i-1"})
	closeEmitter(t, em)
	if len(proc.records) != 1 {
		t.Fatalf("%d records", len(proc.records))
	}
	r := proc.records[0]
	if r.EventName() != "com.example.x" || r.Severity() != log.SeverityInfo || r.Timestamp().IsZero() {
		t.Errorf("record %v %v %v", r.EventName(), r.Severity(), r.Timestamp())
	}
	validate(t, []byte(r.Body().AsString()))
	attrs := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		attrs[string(kv.Key)] = kv.Value.Emit()
		return true
	})
	for k, want := range map[string]string{"cloudevents.event_type": "com.example.x", "cloudevents.event_source": "api",
		"cloudevents.event_subject": "instance/i-1", "cloudevents.event_spec_version": "1.0", "paved.audit.sequence": "1"} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	if attrs["cloudevents.event_id"] == "" {
		t.Error("no event id")
	}
}

// A provider that refuses audit records: the losses are counted as failed.
func TestOTelSinkDisabled(t *testing.T) {
	proc := &logProcessor{enabled: false}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	defer lp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	em, err := audit.New("api", audit.WithSink(audit.NewOTelSink(lp)),
		audit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))), audit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		em.Emit(context.Background(), &audit.Event{})
	}
	closeEmitter(t, em)
	if ev, _ := counts(t, reader); ev["otel/failed"] != 3 {
		t.Errorf("counts %v", ev)
	}
}
