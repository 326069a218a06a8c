package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

// webhookReceiver is a webhook endpoint that records the events it takes.
type webhookReceiver struct {
	t        *testing.T
	down     atomic.Bool // answer 503 without taking the batch
	loseAcks atomic.Int32
	mu       sync.Mutex
	got      []sinkLine // in arrival order, duplicates included
	requests int
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != audit.BatchContentType {
		rc.t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	var batch []sinkLine
	if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
		rc.t.Errorf("body is not a JSON array of events: %v: %s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != batch[0].ID {
		rc.t.Errorf("Idempotency-Key %q, want the first event's id %q", key, batch[0].ID)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, batch...)
	rc.requests++
	rc.mu.Unlock()
	if rc.loseAcks.Add(-1) >= 0 {
		w.WriteHeader(http.StatusBadGateway) // taken, but the sender hears a failure
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (rc *webhookReceiver) received() []sinkLine {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// checkDelivery asserts every written event arrived, in order per source,
// with duplicates only as repeated ids, and reports the duplicates.
func checkWebhookDelivery(t *testing.T, written []*audit.Event, got []sinkLine) (dups int) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{} // per source: the last sequence seen first time
	for _, l := range got {
		if seen[l.ID] {
			dups++
			continue
		}
		seen[l.ID] = true
		seq, _ := strconv.Atoi(l.Sequence)
		if seq <= last[l.Source] {
			t.Errorf("source %s: sequence %d arrived after %d", l.Source, seq, last[l.Source])
		}
		last[l.Source] = seq
	}
	for _, e := range written {
		if !seen[e.ID] {
			t.Errorf("event %s (source %s, sequence %s) was not delivered", e.ID, e.Source, e.Sequence)
		}
	}
	if len(seen) != len(written) {
		t.Errorf("%d distinct events received, %d written", len(seen), len(written))
	}
	return dups
}

// fastRetrier retries at once, so tests need no waiting.
func fastWebhookRetrier(t *testing.T) *retry.Retrier {
	r, err := retry.New("test", retry.WithBackoff(retry.Constant(time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sourceBatches writes batches alternating between two sources.
type sourceBatches struct {
	t       *testing.T
	seq     map[string]int
	written []*audit.Event
}

func (s *sourceBatches) batch(n int) []*audit.Event {
	if s.seq == nil {
		s.seq = map[string]int{}
	}
	src := []string{"/a", "/b"}[len(s.written)%2]
	b := make([]*audit.Event, n)
	for i := range b {
		s.seq[src]++
		b[i] = sinkEvent(s.t, src, s.seq[src], 8)
	}
	s.written = append(s.written, b...)
	return b
}

func sinkFileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestWebhookSinkDeadLetterAndReplay(t *testing.T) {
	rc := &webhookReceiver{t: t}
	srv := httptest.NewServer(rc)
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	var opened atomic.Bool
	b, err := breaker.New("webhook-test", breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(20*time.Millisecond),
		breaker.WithOnStateChange(func(_ string, _, to breaker.State) {
			if to == breaker.StateOpen {
				opened.Store(true)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewWebhookSink(srv.URL+"/events",
		audit.WithDeadLetter(dl), audit.WithWebhookRetrier(fastWebhookRetrier(t)), audit.WithWebhookBreaker(b),
		audit.WithWebhookTransport(srv.Client().Transport), audit.WithReplayInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	src := &sourceBatches{t: t}
	write := func(n int) {
		t.Helper()
		if err := s.Write(ctx, src.batch(n)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	// Up: delivered directly.
	write(3)
	write(2)
	if n := len(rc.received()); n != 5 {
		t.Fatalf("%d events received, want 5", n)
	}

	// Down: every batch goes to the dead-letter file; the breaker opens.
	rc.down.Store(true)
	for range 6 {
		write(4)
	}
	if n := len(rc.received()); n != 5 {
		t.Fatalf("%d events received while down, want 5", n)
	}
	if got := len(readLines(t, dl)); got != 24 {
		t.Fatalf("dead-letter file holds %d events, want 24", got)
	}
	if !opened.Load() {
		t.Error("the breaker did not open")
	}

	// Up again: Replay sends the file in order, then empties it.
	rc.down.Store(false)
	rc.loseAcks.Store(1) // one batch is taken but its answer is lost: sent again
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Replay(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, breaker.ErrOpen) || time.Now().After(deadline) {
			t.Fatalf("Replay: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // the breaker's open time
	}
	if size := sinkFileSize(t, dl); size != 0 {
		t.Fatalf("dead-letter file holds %d bytes after the replay", size)
	}
	write(1)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	dups := checkWebhookDelivery(t, src.written, rc.received())
	if dups == 0 {
		t.Error("the lost answer caused no duplicate")
	}
	t.Logf("%d events, %d duplicates by id", len(src.written), dups)
	goleak.VerifyNone(t)
}

// TestWebhookSinkReplayer: the background replayer drains the file once
// the endpoint is back, and a restart sends what an earlier run left.
func TestWebhookSinkReplayer(t *testing.T) {
	rc := &webhookReceiver{t: t}
	rc.down.Store(true)
	srv := httptest.NewServer(rc)
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	src := &sourceBatches{t: t}
	open := func(interval time.Duration) *audit.WebhookSink {
		s, err := audit.NewWebhookSink(srv.URL, audit.WithDeadLetter(dl), audit.WithWebhookRetrier(fastWebhookRetrier(t)),
			audit.WithWebhookTransport(srv.Client().Transport), audit.WithReplayInterval(interval))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(time.Hour)
	for range 3 {
		if err := s.Write(t.Context(), src.batch(5)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A crash left a torn line after the complete ones: it is cut off.
	f, _ := os.OpenFile(dl, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"id":"torn`)
	f.Close()

	s = open(10 * time.Millisecond)
	if err := s.Write(t.Context(), src.batch(2)); err != nil { // still down: joins the file, after the old events
		t.Fatal(err)
	}
	rc.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	// Received, then emptied: Close cancels a replay whose answer is still
	// on its way, and the file is sent again after the next start.
	for (len(rc.received()) < len(src.written) || sinkFileSize(t, dl) > 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the replayer's tick
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if dups := checkWebhookDelivery(t, src.written, rc.received()); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	if size := sinkFileSize(t, dl); size != 0 {
		t.Errorf("dead-letter file holds %d bytes", size)
	}
	goleak.VerifyNone(t)
}

func TestWebhookSinkWithoutDeadLetter(t *testing.T) {
	rc := &webhookReceiver{t: t}
	rc.down.Store(true)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	b, _ := breaker.New("webhook-test", breaker.WithConsecutiveFailures(2))
	s, err := audit.NewWebhookSink(srv.URL, audit.WithWebhookRetrier(fastWebhookRetrier(t)), audit.WithWebhookBreaker(b),
		audit.WithWebhookTransport(srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "webhook:"+srv.Listener.Addr().String() {
		t.Errorf("Name() = %q", s.Name())
	}
	src := &sourceBatches{t: t}
	if err := s.Write(t.Context(), src.batch(1)); err == nil {
		t.Fatal("Write to a down endpoint without a dead-letter file succeeded")
	}
	err = s.Write(t.Context(), src.batch(1))
	if !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Write = %v, want the open breaker's error", err)
	}
	if err := s.Replay(t.Context()); err != nil {
		t.Errorf("Replay without a dead-letter file = %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), src.batch(1)); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestNewWebhookSinkOptions(t *testing.T) {
	dl := filepath.Join(t.TempDir(), "d", "dead.jsonl")
	tests := []struct {
		name string
		url  string
		opts []audit.WebhookOption
		ok   bool
	}{
		{"defaults", "http://127.0.0.1:1/events", nil, true},
		{"all options", "https://127.0.0.1:1/events", []audit.WebhookOption{
			audit.WithDeadLetter(dl), audit.WithWebhookTimeout(time.Second), audit.WithReplayInterval(time.Second),
			audit.WithWebhookTransport(http.DefaultTransport)}, true},
		{"not a URL", "::", nil, false},
		{"not http", "ftp://127.0.0.1/x", nil, false},
		{"no host", "http:///x", nil, false},
		{"nil option", "http://127.0.0.1:1", []audit.WebhookOption{nil}, false},
		{"empty dead letter", "http://127.0.0.1:1", []audit.WebhookOption{audit.WithDeadLetter("")}, false},
		{"nil retrier", "http://127.0.0.1:1", []audit.WebhookOption{audit.WithWebhookRetrier(nil)}, false},
		{"nil breaker", "http://127.0.0.1:1", []audit.WebhookOption{audit.WithWebhookBreaker(nil)}, false},
		{"zero timeout", "http://127.0.0.1:1", []audit.WebhookOption{audit.WithWebhookTimeout(0)}, false},
		{"zero interval", "http://127.0.0.1:1", []audit.WebhookOption{audit.WithReplayInterval(0)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := audit.NewWebhookSink(tc.url, tc.opts...)
			if !tc.ok {
				if err == nil {
					s.Close(context.Background())
					t.Fatal("NewWebhookSink succeeded, want an error")
				}
				if msg := err.Error(); len(msg) < 7 || msg[:7] != "audit: " {
					t.Errorf("error %q lacks the audit: prefix", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	goleak.VerifyNone(t)
}
