package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/google/uuid"

	"github.com/paved-go/paved/audit"
)

// counts reads paved.audit.events by sink and result, and
// paved.audit.queue.size by sink.
func counts(t testing.TB, r *sdkmetric.ManualReader) (events map[string]int64, queue map[string]int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	events, queue = map[string]int64{}, map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "paved.audit.events" {
					continue
				}
				for _, dp := range d.DataPoints {
					sink, _ := dp.Attributes.Value("paved.audit.sink")
					res, _ := dp.Attributes.Value("result")
					events[sink.AsString()+"/"+res.AsString()] = dp.Value
				}
			case metricdata.Gauge[int64]:
				if m.Name != "paved.audit.queue.size" {
					continue
				}
				for _, dp := range d.DataPoints {
					sink, _ := dp.Attributes.Value("paved.audit.sink")
					queue[sink.AsString()] = dp.Value
				}
			}
		}
	}
	return events, queue
}

func newEvent(subject string) *audit.Event {
	return &audit.Event{Type: "com.example.test", Subject: subject}
}

// sequences lists the events' sequence numbers, drop markers as
// "drop(first-last/count/reason)".
func sequences(evs []*audit.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		if d := ev.Data.Dropped; d != nil {
			b.WriteString("drop(" + strconv.FormatUint(d.First, 10) + "-" + strconv.FormatUint(d.Last, 10) + "/" +
				strconv.FormatInt(d.Count, 10) + "/" + d.Reason + ")@" + ev.Sequence)
			continue
		}
		b.WriteString(ev.Sequence)
	}
	return b.String()
}

func TestDropAndCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stall := newMemSink("stall")
		stall.gate, stall.entered = make(chan struct{}), make(chan struct{}, 100)
		fast := newMemSink("fast")
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		em, err := audit.New("api", quiet, audit.WithSink(stall), audit.WithSink(fast), audit.WithQueueSize(2),
			audit.WithBatch(1, 0), audit.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := em.Emit(ctx, newEvent("1")); err != nil {
			t.Fatal(err)
		}
		<-stall.entered // the stalled sink holds event 1 in its Write
		start := time.Now()
		var dropped int
		for i := 2; i <= 10; i++ {
			err := em.Emit(ctx, newEvent(strconv.Itoa(i)))
			synctest.Wait() // the fast sink keeps up
			switch {
			case errors.Is(err, audit.ErrDropped):
				dropped++
			case err != nil:
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Emit waited %v", d)
		}
		if dropped != 7 {
			t.Errorf("%d Emits reported a drop, want 7", dropped)
		}
		synctest.Wait()
		ev, q := counts(t, reader)
		if ev["stall/dropped"] != 7 || ev["fast/dropped"] != 0 || ev["fast/written"] != 10 {
			t.Errorf("counts %v", ev)
		}
		if q["stall"] != 2 || q["fast"] != 0 {
			t.Errorf("queue sizes %v", q)
		}
		close(stall.gate)
		synctest.Wait()
		if err := em.Emit(ctx, newEvent("11")); err != nil {
			t.Fatal(err)
		}
		closeEmitter(t, em)
		if got, want := sequences(stall.events(t)), "1 2 3 drop(4-10/7/queue_full)@10 11"; got != want {
			t.Errorf("stalled sink got %s, want %s", got, want)
		}
		if got, want := sequences(fast.events(t)), "1 2 3 4 5 6 7 8 9 10 11"; got != want {
			t.Errorf("fast sink got %s, want %s", got, want)
		}
		ev, _ = counts(t, reader)
		if ev["stall/written"] != 4 || ev["stall/dropped"] != 7 || ev["fast/written"] != 11 {
			t.Errorf("final counts %v", ev)
		}
	})
}

func TestBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stall := newMemSink("stall")
		stall.gate, stall.entered = make(chan struct{}), make(chan struct{}, 100)
		em, err := audit.New("api", quiet, audit.WithSink(stall), audit.WithQueueSize(1), audit.WithBatch(1, 0),
			audit.WithMode(audit.Block), audit.WithTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		em.Emit(ctx, newEvent("1"))
		<-stall.entered
		if err := em.Emit(ctx, newEvent("2")); err != nil { // queued
			t.Fatal(err)
		}
		start := time.Now()
		if err := em.Emit(ctx, newEvent("3")); !errors.Is(err, audit.ErrDropped) {
			t.Fatalf("Emit to a full queue: %v, want ErrDropped", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Emit gave up after %v, want the 1s timeout", d)
		}

		// A blocked Emit goes on as soon as the sink makes room.
		done := make(chan error)
		start = time.Now()
		go func() { done <- em.Emit(ctx, newEvent("4")) }()
		synctest.Wait() // blocked on the full queue
		time.Sleep(300 * time.Millisecond)
		stall.gate <- struct{}{} // event 1 written; the worker takes 2, freeing room
		if err := <-done; err != nil {
			t.Fatalf("blocked Emit: %v", err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("blocked Emit took %v", d)
		}
		close(stall.gate)
		closeEmitter(t, em)
		if got, want := sequences(stall.events(t)), "1 2 drop(3-3/1/queue_full)@3 4"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestFailClosed(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(*memSink)
		dryRun   bool
		status   int
		ran      bool
		waited   time.Duration
		sequence string // after the sink recovers and the emitter closes
		stages   string
	}{
		{name: "healthy sink", setup: func(*memSink) {}, status: 201, ran: true,
			sequence: "1 2", stages: "RequestReceived/0 ResponseComplete/201"},
		{name: "hanging sink", setup: func(s *memSink) { s.gate = make(chan struct{}) }, status: 503, waited: time.Second,
			sequence: "1 2", stages: "RequestReceived/0 ResponseComplete/503"},
		{name: "failing sink", setup: func(s *memSink) { s.fail = errors.New("disk full") }, status: 503,
			sequence: "", stages: ""},
		{name: "hanging sink, dry run", setup: func(s *memSink) { s.gate = make(chan struct{}) }, dryRun: true, status: 201, ran: true,
			waited: time.Second, sequence: "1 2", stages: "RequestReceived/0 ResponseComplete/201"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sink := newMemSink("mem")
				tc.setup(sink)
				em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithMode(audit.FailClosed),
					audit.WithTimeout(time.Second), audit.WithDryRun(tc.dryRun))
				if err != nil {
					t.Fatal(err)
				}
				ran := false
				h := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ran = true
					w.WriteHeader(201)
				}))
				start := time.Now()
				rr := httptest.NewRecorder()
				h.ServeHTTP(rr, httptest.NewRequest("POST", "/instances", nil))
				if d := time.Since(start); d != tc.waited {
					t.Errorf("request waited %v, want %v", d, tc.waited)
				}
				if rr.Code != tc.status || ran != tc.ran {
					t.Fatalf("status %d, handler ran %v; want %d, %v", rr.Code, ran, tc.status, tc.ran)
				}
				if tc.status == 503 && !strings.Contains(rr.Header().Get("Content-Type"), "problem+json") {
					t.Errorf("503 is not problem+json: %q", rr.Header().Get("Content-Type"))
				}
				if sink.gate != nil {
					close(sink.gate)
				}
				closeEmitter(t, em)
				evs := sink.events(t)
				if got := sequences(evs); got != tc.sequence {
					t.Errorf("sequences %q, want %q", got, tc.sequence)
				}
				var stages []string
				for _, ev := range evs {
					code := 0
					if ev.Data.Outcome != nil {
						code = ev.Data.Outcome.Code
					}
					stages = append(stages, ev.Data.Stage+"/"+strconv.Itoa(code))
				}
				if got := strings.Join(stages, " "); got != tc.stages {
					t.Errorf("stages %q, want %q", got, tc.stages)
				}
			})
		})
	}
}

func TestFailClosedEmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok, stall := newMemSink("ok"), newMemSink("stall")
		stall.gate = make(chan struct{})
		em, err := audit.New("api", quiet, audit.WithSink(ok), audit.WithSink(stall), audit.WithMode(audit.FailClosed), audit.WithTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		// A context that is already cancelled does not cut the wait short.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		if err := em.Emit(ctx, newEvent("1")); !errors.Is(err, audit.ErrUnavailable) {
			t.Fatalf("Emit with a hanging sink: %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("waited %v", d)
		}
		close(stall.gate)
		synctest.Wait()
		if err := em.Emit(context.Background(), newEvent("2")); err != nil {
			t.Fatalf("Emit with both sinks up: %v", err)
		}
		closeEmitter(t, em)
		if got := sequences(ok.events(t)); got != "1 2" {
			t.Errorf("ok sink %s", got)
		}
	})
}

func TestWriteFailureMarker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink("flaky")
		sink.fail = errors.New("connection refused")
		reader := sdkmetric.NewManualReader()
		em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithBatch(1, 0),
			audit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		em.Emit(ctx, newEvent("1"))
		synctest.Wait()
		em.Emit(ctx, newEvent("2"))
		synctest.Wait()
		sink.setFail(nil)
		em.Emit(ctx, newEvent("3"))
		closeEmitter(t, em)
		if got, want := sequences(sink.events(t)), "drop(1-2/2/write_failed)@2 3"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		if ev, _ := counts(t, reader); ev["flaky/failed"] != 2 || ev["flaky/written"] != 1 {
			t.Errorf("counts %v", ev)
		}
	})
}

func TestBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink("mem")
		em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithBatch(3, 10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		em.Emit(ctx, newEvent("1"))
		synctest.Wait()
		if n := len(sink.batchSizes()); n != 0 {
			t.Fatalf("wrote before the batch delay: %v", sink.batchSizes())
		}
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		if got := sink.batchSizes(); len(got) != 1 || got[0] != 1 {
			t.Fatalf("after the delay: batches %v, want [1]", got)
		}
		for i := range 7 {
			em.Emit(ctx, newEvent(strconv.Itoa(i)))
		}
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		total := 0
		for _, n := range sink.batchSizes()[1:] {
			if n > 3 {
				t.Errorf("batch of %d, above the size 3", n)
			}
			total += n
		}
		if total != 7 {
			t.Errorf("%d events written, want 7", total)
		}
		closeEmitter(t, em)
	})
}

func TestCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink("mem")
		em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithBatch(100, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 250 {
			em.Emit(context.Background(), newEvent(strconv.Itoa(i)))
		}
		start := time.Now()
		closeEmitter(t, em)
		if d := time.Since(start); d != 0 {
			t.Errorf("Close waited %v for the batch delay", d)
		}
		if n := len(sink.events(t)); n != 250 {
			t.Fatalf("%d events written, want 250", n)
		}
		if !sink.closed {
			t.Error("sink not closed")
		}
		if err := em.Emit(context.Background(), newEvent("late")); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("Emit after Close: %v", err)
		}
		if err := em.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink("stall")
		sink.gate = make(chan struct{})
		em, err := audit.New("api", quiet, audit.WithSink(sink))
		if err != nil {
			t.Fatal(err)
		}
		em.Emit(context.Background(), newEvent("1"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := em.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close: %v", err)
		}
		synctest.Wait() // the Write saw its context cancelled and the worker ended
	})
}

func TestEmitFills(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("billing", audit.WithSink(sink), audit.WithSource("https://api.example.com/billing"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	em.Emit(context.Background(), &audit.Event{Type: "com.example.invoice.paid", Time: at, Subject: "invoice/7",
		Data: audit.Data{Principal: &audit.Principal{ID: "svc-billing"}}})
	em.Emit(context.Background(), &audit.Event{Data: audit.Data{
		Request:  &audit.Payload{Body: []byte(`{"user":"al","password":"pw"}`)},
		Response: &audit.Payload{Body: []byte(`not json`), Size: 8},
	}})
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != 2 {
		t.Fatal(len(evs))
	}
	a, b := evs[0], evs[1]
	if a.Source != "https://api.example.com/billing" || a.Type != "com.example.invoice.paid" || !a.Time.Equal(at) ||
		a.Time.Location() != time.UTC || a.Sequence != "1" || a.Data.Principal.ID != "svc-billing" {
		t.Errorf("event %+v", a)
	}
	if string(b.Data.Request.Body) != `{"password":"[REDACTED]","user":"al"}` || b.Data.Response.Body != nil || b.Data.Response.Size != 8 {
		t.Errorf("payloads %s / %s", b.Data.Request.Body, b.Data.Response.Body)
	}
	if b.Type != audit.DefaultType || b.Time.IsZero() || b.Sequence != "2" {
		t.Errorf("event %+v", b)
	}
	if a.ID == b.ID || len(a.ID) != 36 || a.ID[14] != '7' || b.ID <= a.ID {
		t.Errorf("ids %s %s: want increasing UUIDv7s", a.ID, b.ID)
	}
	for _, ev := range evs {
		u, err := uuid.Parse(ev.ID)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %s: version %v variant %v %v", ev.ID, u.Version(), u.Variant(), err)
		}
		sec, nsec := u.Time().UnixTime()
		if ms := sec*1000 + nsec/1e6; ms != ev.Time.UnixMilli() {
			t.Errorf("id %s holds %d ms, event time %d", ev.ID, ms, ev.Time.UnixMilli())
		}
	}
	raw := string(sink.raw()[0])
	if !strings.Contains(raw, `"time":"2026-11-30T11:00:00Z"`) {
		t.Errorf("time not RFC 3339 UTC: %s", raw)
	}
}

// In FailClosed mode a ResponseComplete event is not confirmed: the call
// it reports has happened, so Emit only waits for room, as Block does.
func TestFailClosedResponseComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newMemSink("stall")
		sink.gate = make(chan struct{})
		em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithMode(audit.FailClosed), audit.WithTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := em.Emit(context.Background(), &audit.Event{Data: audit.Data{Stage: audit.StageResponseComplete}}); err != nil {
			t.Fatalf("Emit: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("waited %v for a ResponseComplete event", d)
		}
		close(sink.gate)
		closeEmitter(t, em)
		if n := len(sink.events(t)); n != 1 {
			t.Fatalf("%d events", n)
		}
		var nilEm *audit.Emitter
		if err := nilEm.Emit(context.Background(), &audit.Event{}); err == nil {
			t.Error("Emit on a nil *Emitter: no error")
		}
	})
}

// Drops after the last event written are announced when the emitter
// closes, and a sink that panics counts as failing, not as a crash.
func TestDropMarkerAtClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stall := newMemSink("stall")
		stall.gate, stall.entered = make(chan struct{}), make(chan struct{}, 100)
		em, err := audit.New("api", quiet, audit.WithSink(stall), audit.WithQueueSize(1), audit.WithBatch(1, 0),
			audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		em.Emit(ctx, newEvent("1"))
		<-stall.entered
		for i := 2; i <= 5; i++ {
			em.Emit(ctx, newEvent(strconv.Itoa(i)))
		}
		close(stall.gate)
		closeEmitter(t, em)
		if got, want := sequences(stall.events(t)), "1 2 drop(3-5/3/queue_full)@5"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

type panicSink struct{ memSink }

func (p *panicSink) Write(ctx context.Context, batch []*audit.Event) error {
	if batch[len(batch)-1].Subject == "boom" {
		panic("sink bug")
	}
	return p.memSink.Write(ctx, batch)
}

func TestSinkPanics(t *testing.T) {
	sink := &panicSink{memSink{name: "panicky"}}
	em, err := audit.New("api", audit.WithSink(sink), audit.WithBatch(1, 0), audit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	em.Emit(context.Background(), newEvent("boom"))
	closeEmitter(t, em)
	if got, want := sequences(sink.events(t)), "drop(1-1/1/write_failed)@1"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Drops are logged at most once a second per sink, with the count since
// the last line.
func TestDropLogThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		stall := newMemSink("stall")
		stall.gate, stall.entered = make(chan struct{}), make(chan struct{}, 100)
		em, err := audit.New("api", quiet, audit.WithSink(stall), audit.WithQueueSize(1), audit.WithBatch(1, 0),
			audit.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		em.Emit(ctx, newEvent("1"))
		<-stall.entered
		for range 6 { // one queued, five dropped
			em.Emit(ctx, newEvent(""))
		}
		time.Sleep(time.Second)
		em.Emit(ctx, newEvent("")) // dropped, logged with the four held back
		close(stall.gate)
		closeEmitter(t, em)
		want := `level=WARN msg="audit: sink queue full, events dropped" emitter=api sink=stall dropped=1
level=WARN msg="audit: sink queue full, events dropped" emitter=api sink=stall dropped=5
`
		if buf.String() != want {
			t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
		}
	})
}

// With a sink that hangs, requests go on at full speed in DropAndCount
// mode: the middleware never waits for a sink.
func TestMiddlewareNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stall := newMemSink("stall")
		stall.gate = make(chan struct{})
		em, err := audit.New("api", audit.WithSink(stall), audit.WithQueueSize(2), audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		h := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		start := time.Now()
		for range 20 {
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
			if rr.Code != 200 {
				t.Fatal(rr.Code)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("requests waited %v", d)
		}
		close(stall.gate)
		closeEmitter(t, em)
		// Where the drops fall depends on when the sink goroutine first
		// runs, which the request loop does not wait for: check that the
		// trail accounts for every call, in order, with the drops
		// announced.
		evs := stall.events(t)
		next, dropped := uint64(1), int64(0)
		for _, ev := range evs {
			if d := ev.Data.Dropped; d != nil {
				if d.First != next || d.Count != int64(d.Last-d.First+1) {
					t.Fatalf("trail %s: drop marker at %d", sequences(evs), next)
				}
				next, dropped = d.Last+1, dropped+d.Count
				continue
			}
			if ev.Sequence != strconv.FormatUint(next, 10) {
				t.Fatalf("trail %s: want %d next", sequences(evs), next)
			}
			next++
		}
		if next != 21 || dropped == 0 {
			t.Errorf("trail %s: want calls 1 to 20, some of them dropped", sequences(evs))
		}
	})
}

// flakySink fails every third Write, except of a batch of drop markers
// only, such as the one that ends a trail at Close: a failure there
// would leave nothing later to announce it.
type flakySink struct {
	memSink
	calls int
}

func (s *flakySink) Write(ctx context.Context, batch []*audit.Event) error {
	markers := true
	for _, ev := range batch {
		markers = markers && ev.Data.Dropped != nil
	}
	s.calls++ // one goroutine per sink: no lock needed
	if s.calls%3 == 0 && !markers {
		return errors.New("flaky")
	}
	return s.memSink.Write(ctx, batch)
}

// Whatever drops and failures happen, each sink's trail accounts for
// every sequence number exactly once, in order: an event, or a drop
// marker's range.
func TestSequenceInvariant(t *testing.T) {
	good, flaky := newMemSink("good"), &flakySink{memSink: memSink{name: "flaky"}}
	em, err := audit.New("api", quiet, audit.WithSink(good), audit.WithSink(flaky), audit.WithQueueSize(4), audit.WithBatch(3, 0),
		audit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var numbered atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				err := em.Emit(context.Background(), newEvent(strconv.Itoa(g*1000+i)))
				if !errors.Is(err, audit.ErrClosed) {
					numbered.Add(1)
				}
				if g == 0 && i == 250 {
					closeEmitter(t, em)
				}
			}
		})
	}
	wg.Wait()
	failures := 0
	for _, ev := range flaky.events(t) {
		if d := ev.Data.Dropped; d != nil && d.Reason == "write_failed" {
			failures++
		}
	}
	if flaky.calls >= 4 && failures == 0 {
		t.Errorf("%d writes, and no write_failed marker", flaky.calls)
	}
	for _, s := range []*memSink{good, &flaky.memSink} {
		next := uint64(1)
		for _, ev := range s.events(t) {
			seq, err := strconv.ParseUint(ev.Sequence, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if d := ev.Data.Dropped; d != nil {
				if d.First != next || d.Last < d.First || d.Count != int64(d.Last-d.First+1) || seq != d.Last {
					t.Fatalf("%s: marker %+v at sequence %d, expected first %d", s.name, d, seq, next)
				}
				next = d.Last + 1
				continue
			}
			if seq != next {
				t.Fatalf("%s: sequence %d, want %d", s.name, seq, next)
			}
			next++
		}
		if got := int64(next - 1); got != numbered.Load() {
			t.Errorf("%s: trail accounts for %d events, %d were numbered", s.name, got, numbered.Load())
		}
	}
}
