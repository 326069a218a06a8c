package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"

	"github.com/paved-go/paved/audit"
)

// memSink keeps what it is given, as JSON, like a real sink would write
// it. With a gate, each Write first waits for a value on it (or for its
// context), so a test can stall the sink; entered receives a value as
// each Write starts.
type memSink struct {
	name    string
	gate    chan struct{}
	entered chan struct{}
	fail    error

	mu      sync.Mutex
	lines   [][]byte
	writes  int
	batches []int
	closed  bool
}

func newMemSink(name string) *memSink { return &memSink{name: name} }

func (s *memSink) Name() string { return s.name }

func (s *memSink) Write(ctx context.Context, batch []*audit.Event) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.batches = append(s.batches, len(batch))
	if s.fail != nil {
		return s.fail
	}
	for _, ev := range batch {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		s.lines = append(s.lines, b)
	}
	return nil
}

func (s *memSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("closed twice")
	}
	s.closed = true
	return nil
}

func (s *memSink) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// events returns the events written so far, each checked to be a valid
// CloudEvent.
func (s *memSink) events(t testing.TB) []*audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*audit.Event, 0, len(s.lines))
	for _, b := range s.lines {
		validate(t, b)
		var ev audit.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("event does not decode: %v\n%s", err, b)
		}
		out = append(out, &ev)
	}
	return out
}

func (s *memSink) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

func (s *memSink) raw() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.lines...)
}

// validate checks b is a valid CloudEvents 1.0 event in structured JSON,
// with the attributes every audit event has.
func validate(t testing.TB, b []byte) {
	t.Helper()
	var e ce.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a CloudEvent: %v\n%s", err, b)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("invalid CloudEvent: %v\n%s", err, b)
	}
	if e.SpecVersion() != "1.0" || e.DataContentType() != "application/json" {
		t.Fatalf("specversion %q datacontenttype %q", e.SpecVersion(), e.DataContentType())
	}
	if _, ok := e.Extensions()["sequence"]; !ok {
		t.Fatalf("no sequence extension:\n%s", b)
	}
	for name := range e.Extensions() {
		if !ce.IsExtensionNameValid(name) || len(name) > 20 || strings.ToLower(name) != name {
			t.Fatalf("extension name %q is not valid", name)
		}
	}
	if e.Time().IsZero() {
		t.Fatalf("no time:\n%s", b)
	}
	var data map[string]any
	if err := json.Unmarshal(e.Data(), &data); err != nil {
		t.Fatalf("data is not a JSON object: %v\n%s", err, b)
	}
}

// quiet keeps the emitter's drop and failure logs out of test output.
var quiet = audit.WithLogger(slog.New(slog.DiscardHandler))

// closeEmitter closes em, failing the test if it does not flush in time.
func closeEmitter(t testing.TB, em *audit.Emitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Close(ctx); err != nil {
		t.Fatal("Close:", err)
	}
}
