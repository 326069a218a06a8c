package audit_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/internal/registry/registrytest"
)

// statusRows returns the status page's rows of the name.
func statusRows(name string) []registry.Component { return registrytest.Rows(registry.KindAudit, name) }

func statusRow(t *testing.T, name string) (registry.Component, audit.Report) {
	t.Helper()
	return registrytest.Row[audit.Report](t, registry.KindAudit, name)
}

func wantSnakeJSON(t *testing.T, row registry.Component) { registrytest.WantSnakeJSON(t, row) }

func sinkReport(t *testing.T, r audit.Report, name string) audit.SinkReport {
	t.Helper()
	for _, s := range r.Sinks {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no sink %q in %+v", name, r.Sinks)
	return audit.SinkReport{}
}

func TestStatusEmitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary, slow, broken := newMemSink("primary"), newMemSink("slow"), newMemSink("broken")
		slow.gate = make(chan struct{})
		broken.fail = errors.New("disk full")
		em, err := audit.New("status-emitter", quiet, audit.WithSink(primary), audit.WithSink(slow), audit.WithSink(broken),
			audit.WithQueueSize(2), audit.WithBatch(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { // on failure: a stalled Write gives up when Close's context ends
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			em.Close(ctx)
		}()
		ctx := context.Background()
		emit := func(want error) {
			t.Helper()
			if err := em.Emit(ctx, newEvent("alice")); !errors.Is(err, want) {
				t.Fatalf("Emit = %v, want %v", err, want)
			}
			synctest.Wait()
		}
		emit(nil)              // slow's worker holds it in a stalled Write
		emit(nil)              // slow's queue: 1
		emit(nil)              // slow's queue: 2, full
		emit(audit.ErrDropped) // dropped for slow
		time.Sleep(30 * time.Second)

		row, r := statusRow(t, "status-emitter")
		if r.Mode != "DropAndCount" || r.QueueDepth != 2 || r.QueueCapacity != 2 || r.Written != 4 || r.Failed != 4 ||
			r.Dropped != 1 || r.DroppedPerMin != 2 || len(r.Sinks) != 3 {
			t.Errorf("stats = %+v, want queue 2 of 2, 4 written, 4 failed, 1 dropped (2/min), 3 sinks", r)
		}
		for _, want := range []audit.SinkReport{
			{Name: "primary", Written: 4},
			{Name: "slow", Queued: 2, Dropped: 1},
			{Name: "broken", Failed: 4, Failing: true, LastError: "disk full"},
		} {
			if got := sinkReport(t, r, want.Name); got != want {
				t.Errorf("sink\n got %+v\nwant %+v", got, want)
			}
		}
		if row.State != "failing" || row.Health != registry.HealthBad || row.Value != 2 || row.Unit != "queued events" {
			t.Errorf("row = %+v, want failing, bad, 2 queued events", row)
		}
		wantSnakeJSON(t, row)

		// The broken sink recovers and the slow one drains: the drop is
		// less than a minute old.
		broken.setFail(nil)
		close(slow.gate)
		synctest.Wait()
		emit(nil)
		row, r = statusRow(t, "status-emitter")
		if b := sinkReport(t, r, "broken"); b.Failing || b.LastError != "" || b.Written != 1 {
			t.Errorf("broken sink = %+v, want recovered with 1 written", b)
		}
		if s := sinkReport(t, r, "slow"); s.Queued != 0 || s.Written != 4 {
			t.Errorf("slow sink = %+v, want drained with 4 written", s)
		}
		if row.State != "dropping" || row.Health != registry.HealthWarn || row.Value != 0 {
			t.Errorf("row = %+v, want dropping, warn, empty queues", row)
		}

		time.Sleep(time.Minute)
		if row, _ = statusRow(t, "status-emitter"); row.State != "ok" || row.Health != registry.HealthOK {
			t.Errorf("a minute later: row = %+v, want ok", row)
		}
		closeEmitter(t, em)
		if rows := statusRows("status-emitter"); len(rows) != 0 {
			t.Errorf("closed, yet reported: %+v", rows)
		}
	})
}

func TestStatusEmitterRegistrationOff(t *testing.T) {
	registry.SetEnabled(false)
	em, err := audit.New("status-off", quiet, audit.WithSink(newMemSink("s")))
	registry.SetEnabled(true)
	if err != nil {
		t.Fatal(err)
	}
	defer closeEmitter(t, em)
	if rows := statusRows("status-off"); len(rows) != 0 {
		t.Errorf("built with registration off, yet reported: %+v", rows)
	}
}

// TestStatusEmitterUnderTraffic reports while events are emitted and
// written, for the race detector.
func TestStatusEmitterUnderTraffic(t *testing.T) {
	sink := newMemSink("s")
	em, err := audit.New("status-traffic", quiet, audit.WithSink(sink), audit.WithQueueSize(16))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				em.Emit(ctx, newEvent("user-"+strconv.Itoa(g*1000+i)))
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			statusRows("status-traffic")
		}
	}()
	wg.Wait()
	<-done
	_, r := statusRow(t, "status-traffic")
	if r.Written+r.Dropped+uint64(r.QueueDepth) == 0 || r.Failed != 0 {
		t.Errorf("stats = %+v, want events accounted for and none failed", r)
	}
	closeEmitter(t, em)
}
