package overload_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/internal/registry/registrytest"
	"github.com/paved-go/paved/overload"
)

// statusRows returns the status page's rows of the name.
func statusRows(name string) []registry.Component {
	return registrytest.Rows(registry.KindOverload, name)
}

func statusRow[S any](t *testing.T, name string) (registry.Component, S) {
	t.Helper()
	return registrytest.Row[S](t, registry.KindOverload, name)
}

func wantSnakeJSON(t *testing.T, row registry.Component) { registrytest.WantSnakeJSON(t, row) }

func TestStatusBulkhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := overload.NewBulkhead("status-bulkhead", 2, overload.WithQueue(1))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var releases []func()
		for range 2 {
			release, err := b.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, release)
		}
		queued := make(chan error)
		go func() {
			_, err := b.Acquire(ctx)
			queued <- err
		}()
		synctest.Wait()
		if _, err := b.Acquire(ctx); !errors.Is(err, overload.ErrShed) {
			t.Fatalf("Acquire with a full queue = %v, want shed", err)
		}
		time.Sleep(30 * time.Second)

		row, r := statusRow[overload.Report](t, "status-bulkhead")
		want := overload.Report{Type: "bulkhead", Limit: 2, InFlight: 2, Queued: 1, MaxQueue: 1,
			Shed: overload.ShedCounts{Default: 1}, ShedPerMin: 2}
		if r != want {
			t.Errorf("stats\n got %+v\nwant %+v", r, want)
		}
		if row.State != "shedding" || row.Health != registry.HealthWarn || row.Value != 2 || row.Unit != "shed/min" {
			t.Errorf("row = %+v, want shedding, warn, 2 shed/min", row)
		}
		wantSnakeJSON(t, row)

		// A minute later, with a call still queued and none shed.
		time.Sleep(time.Minute)
		row, _ = statusRow[overload.Report](t, "status-bulkhead")
		if row.State != "queueing" || row.Health != registry.HealthOK || row.Value != 0 {
			t.Errorf("a minute later: row = %+v, want queueing, ok, 0 shed/min", row)
		}
		cancel()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("queued Acquire = %v, want canceled", err)
		}
		for _, release := range releases {
			release()
		}
	})
}

func TestStatusLimiter(t *testing.T) {
	l, err := overload.NewLimiter("status-limiter", overload.WithLimits(2, 10))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var tickets []overload.Ticket
	for range 2 {
		tk, err := l.Acquire(ctx, overload.Critical)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	for _, c := range []overload.Class{overload.Sheddable, overload.Default, overload.Critical, overload.Sheddable} {
		if _, err := l.Acquire(ctx, c); !errors.Is(err, overload.ErrShed) {
			t.Fatalf("Acquire(%v) over the limit = %v, want shed", c, err)
		}
	}
	row, r := statusRow[overload.Report](t, "status-limiter")
	if r.Type != "limiter" || r.Limit != 2 || r.InFlight != 2 || r.Queued != 0 || r.MaxQueue != 0 ||
		r.Algorithm != "Gradient2" || r.MinLimit != 2 || r.MaxLimit != 10 || r.MinRTTMs != 0 {
		t.Errorf("stats = %+v, want a Gradient2 limiter measuring at its limit of 2, 2 in flight", r)
	}
	if want := (overload.ShedCounts{Critical: 1, Default: 1, Sheddable: 2}); r.Shed != want || r.Shed.Total() != 4 {
		t.Errorf("shed = %+v, want %+v", r.Shed, want)
	}
	if row.State != "shedding" || row.Health != registry.HealthWarn || r.ShedPerMin <= 0 || row.Value != r.ShedPerMin {
		t.Errorf("row = %+v, want shedding, warn, charting shed/min", row)
	}
	for _, tk := range tickets {
		tk.Drop()
	}
	if _, r := statusRow[overload.Report](t, "status-limiter"); r.InFlight != 0 {
		t.Errorf("in flight = %d after every call ended, want 0", r.InFlight)
	}
}

func TestStatusBulkheads(t *testing.T) {
	r, err := overload.NewBulkheads("status-bulkheads", 1, overload.WithMaxKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	releaseA, err := r.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acquire(ctx, "a"); !errors.Is(err, overload.ErrShed) {
		t.Fatalf("second call of a = %v, want shed", err)
	}
	releaseB, err := r.Acquire(ctx, "b") // no room for b: the overflow bulkhead
	if err != nil {
		t.Fatal(err)
	}
	row, rep := statusRow[overload.Report](t, "status-bulkheads")
	want := overload.Report{Type: "bulkheads", Limit: 1, InFlight: 2, Shed: overload.ShedCounts{Default: 1},
		ShedPerMin: rep.ShedPerMin, Keys: 1, MaxKeys: 1, OverflowInFlight: 1}
	if rep != want || rep.ShedPerMin <= 0 {
		t.Errorf("stats\n got %+v\nwant %+v", rep, want)
	}
	if row.State != "shedding" || row.Health != registry.HealthWarn {
		t.Errorf("row = %+v, want shedding, warn", row)
	}
	wantSnakeJSON(t, row)
	releaseA()
	releaseB()
	if rows := statusRows("status-bulkheads"); len(rows) != 1 {
		t.Errorf("%d rows: the registry's bulkheads must not report rows of their own", len(rows))
	}
}

func TestStatusThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th, err := overload.NewThrottle("status-throttle", overload.WithRandom(func() float64 { return 0 }))
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			th.Refuse()
		}
		if err := th.Allow(context.Background()); !errors.Is(err, overload.ErrThrottled) {
			t.Fatalf("Allow after 10 refusals = %v, want throttled", err)
		}
		time.Sleep(30 * time.Second)
		row, r := statusRow[overload.ThrottleReport](t, "status-throttle")
		want := overload.ThrottleReport{Type: "throttle", Probability: 11.0 / 12, Requests: 11, K: 2,
			WindowSeconds: 120, Throttled: 1, ThrottledPerMin: 2}
		if r != want {
			t.Errorf("stats\n got %+v\nwant %+v", r, want)
		}
		if row.State != "throttling" || row.Health != registry.HealthWarn || row.Value != 11.0/12 || row.Unit != "rejection ratio" {
			t.Errorf("row = %+v, want throttling, warn, 11/12", row)
		}
		wantSnakeJSON(t, row)

		// The window slides past the refusals.
		time.Sleep(2 * time.Minute)
		row, _ = statusRow[overload.ThrottleReport](t, "status-throttle")
		if row.State != "ok" || row.Health != registry.HealthOK || row.Value != 0 {
			t.Errorf("two minutes later: row = %+v, want ok, 0", row)
		}
		runtime.KeepAlive(th)
	})
}

func TestStatusRegistration(t *testing.T) {
	t.Run("unnamed throttle", func(t *testing.T) {
		before := len(registry.Snapshot())
		th, err := overload.NewThrottle("")
		if err != nil {
			t.Fatal(err)
		}
		if after := len(registry.Snapshot()); after != before {
			t.Errorf("%d rows after an unnamed Throttle, want %d", after, before)
		}
		runtime.KeepAlive(th)
	})
	t.Run("registration off", func(t *testing.T) {
		registry.SetEnabled(false)
		b, err := overload.NewBulkhead("status-off", 1)
		registry.SetEnabled(true)
		if err != nil {
			t.Fatal(err)
		}
		if rows := statusRows("status-off"); len(rows) != 0 {
			t.Errorf("built with registration off, yet reported: %+v", rows)
		}
		runtime.KeepAlive(b)
	})
	t.Run("unreachable drops out", func(t *testing.T) {
		func() {
			l, err := overload.NewLimiter("status-dropped")
			if err != nil {
				t.Fatal(err)
			}
			b, err := overload.NewBulkheads("status-dropped", 1)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(statusRows("status-dropped")); n != 2 {
				t.Fatalf("%d rows, want 2", n)
			}
			runtime.KeepAlive(l)
			runtime.KeepAlive(b)
		}()
		for i := 0; i < 10 && len(statusRows("status-dropped")) > 0; i++ {
			runtime.GC()
		}
		if rows := statusRows("status-dropped"); len(rows) != 0 {
			t.Errorf("unreachable limiters still reported: %+v", rows)
		}
	})
}

// TestStatusUnderTraffic reports while calls come and go, for the race
// detector.
func TestStatusUnderTraffic(t *testing.T) {
	l, err := overload.NewLimiter("status-traffic", overload.WithLimits(2, 4), overload.WithQueue(2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := overload.NewBulkheads("status-traffic", 2)
	if err != nil {
		t.Fatal(err)
	}
	th, err := overload.NewThrottle("status-traffic")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				if tk, err := l.Acquire(ctx, overload.Class(i%3-1)); err == nil {
					tk.Done()
				}
				if release, err := b.Acquire(ctx, string(rune('a'+(g+i)%3))); err == nil {
					release()
				}
				if th.Allow(ctx) == nil {
					th.Accept()
				}
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
	if rows := statusRows("status-traffic"); len(rows) != 3 {
		t.Errorf("%d rows, want the limiter's, the bulkheads' and the throttle's", len(rows))
	}
}
