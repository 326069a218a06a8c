package retry_test

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
	"github.com/paved-go/paved/retry"
)

// statusRows returns the status page's rows of the name.
func statusRows(name string) []registry.Component { return registrytest.Rows(registry.KindRetry, name) }

func statusRow(t *testing.T, name string) (registry.Component, retry.Report) {
	t.Helper()
	return registrytest.Row[retry.Report](t, registry.KindRetry, name)
}

func wantSnakeJSON(t *testing.T, row registry.Component) { registrytest.WantSnakeJSON(t, row) }

func newRetrier(t *testing.T, name string, opts ...retry.Option) *retry.Retrier {
	t.Helper()
	r, err := retry.New(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStatusBudgetExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Half the requests plus one retry in ten seconds: one retry for
		// a single request.
		b, err := retry.NewBudget(0.5, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		r := newRetrier(t, "status-budget", retry.WithBudget(b), retry.WithMaxAttempts(5), retry.WithBackoff(retry.Constant(0)))
		calls := 0
		err = r.Do(context.Background(), func(context.Context) error { calls++; return errFlaky })
		if !errors.Is(err, retry.ErrBudgetExhausted) || calls != 2 {
			t.Fatalf("Do = %v after %d calls, want the budget exhausted after 2", err, calls)
		}
		time.Sleep(5 * time.Second)
		row, rep := statusRow(t, "status-budget")
		want := retry.Report{Budget: true, Available: 0, Capacity: 1.5, Requests: 1, Retries: 1,
			Ratio: 0.5, MinPerSecond: 0.1, Exhausted: 1, ExhaustedPerMin: 12, MaxAttempts: 5}
		if rep != want {
			t.Errorf("stats\n got %+v\nwant %+v", rep, want)
		}
		if row.State != "exhausted" || row.Health != registry.HealthWarn || row.Value != 0 || row.Unit != "retries available" {
			t.Errorf("row = %+v, want exhausted, warn, 0 retries available", row)
		}
		wantSnakeJSON(t, row)

		// The window has moved past the failures.
		time.Sleep(10 * time.Second)
		row, rep = statusRow(t, "status-budget")
		if row.State != "ok" || row.Health != registry.HealthOK || rep.Available != 1 || rep.Requests != 0 || rep.Retries != 0 {
			t.Errorf("ten seconds later: row = %+v, want ok with 1 retry available", row)
		}
		runtime.KeepAlive(r)
	})
}

func TestStatusNoBudget(t *testing.T) {
	r := newRetrier(t, "status-unbudgeted", retry.WithBudget(nil), retry.WithHedging(time.Second))
	row, rep := statusRow(t, "status-unbudgeted")
	want := retry.Report{MaxAttempts: 3, Hedging: true}
	if rep != want {
		t.Errorf("stats\n got %+v\nwant %+v", rep, want)
	}
	if row.State != "ok" || row.Unit != "unbudgeted" || row.Value != 0 {
		t.Errorf("row = %+v, want ok, unbudgeted", row)
	}
	runtime.KeepAlive(r)
}

func TestStatusDefaultBudget(t *testing.T) {
	r := newRetrier(t, "status-default")
	_, rep := statusRow(t, "status-default")
	if !rep.Budget || rep.Ratio != 0.2 || rep.MinPerSecond != 10 || rep.Available != 100 {
		t.Errorf("stats = %+v, want the default budget, 100 retries available", rep)
	}
	runtime.KeepAlive(r)
}

func TestStatusRegistration(t *testing.T) {
	t.Run("registration off", func(t *testing.T) {
		registry.SetEnabled(false)
		r := newRetrier(t, "status-off")
		registry.SetEnabled(true)
		if rows := statusRows("status-off"); len(rows) != 0 {
			t.Errorf("built with registration off, yet reported: %+v", rows)
		}
		runtime.KeepAlive(r)
	})
	t.Run("unreachable drops out", func(t *testing.T) {
		func() {
			r := newRetrier(t, "status-dropped")
			if len(statusRows("status-dropped")) != 1 {
				t.Fatal("not registered")
			}
			runtime.KeepAlive(r)
		}()
		for i := 0; i < 10 && len(statusRows("status-dropped")) > 0; i++ {
			runtime.GC()
		}
		if rows := statusRows("status-dropped"); len(rows) != 0 {
			t.Errorf("unreachable retrier still reported: %+v", rows)
		}
	})
}

// TestStatusUnderTraffic reports while calls retry, for the race
// detector.
func TestStatusUnderTraffic(t *testing.T) {
	r := newRetrier(t, "status-traffic", retry.WithBackoff(retry.Constant(0)))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 300 {
				r.Do(context.Background(), func(context.Context) error {
					if i%2 == 0 {
						return errFlaky
					}
					return nil
				})
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
	if _, rep := statusRow(t, "status-traffic"); rep.Requests == 0 || rep.Retries == 0 {
		t.Errorf("stats = %+v, want requests and retries counted", rep)
	}
}
