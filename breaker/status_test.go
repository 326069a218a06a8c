package breaker_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/registry"
)

// rowsNamed returns the status rows of the components named name.
func rowsNamed(name string) []registry.Component {
	var out []registry.Component
	for _, c := range registry.Snapshot() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// keep keeps v reachable until the test ends: the registry holds
// components weakly.
func keep(t testing.TB, v any) { t.Cleanup(func() { runtime.KeepAlive(v) }) }

func oneRow(t *testing.T, name string) registry.Component {
	t.Helper()
	rows := rowsNamed(name)
	if len(rows) != 1 {
		t.Fatalf("%d rows named %q, want 1: %+v", len(rows), name, rows)
	}
	return rows[0]
}

type wantRow struct {
	state, health string
	value         float64
	stats         breaker.Status
}

func checkRow(t *testing.T, c registry.Component, w wantRow) {
	t.Helper()
	if c.Kind != registry.KindBreaker || c.Unit != "failure rate" {
		t.Errorf("kind %q unit %q, want breaker, failure rate", c.Kind, c.Unit)
	}
	if c.State != w.state || c.Health != w.health || c.Value != w.value {
		t.Errorf("state %s health %s value %v, want %s %s %v", c.State, c.Health, c.Value, w.state, w.health, w.value)
	}
	if got := c.Stats.(breaker.Status); got != w.stats {
		t.Errorf("stats = %+v, want %+v", got, w.stats)
	}
}

func TestStatusFollowsTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := mustNew(t, "status-follows", breaker.WithFailureRate(0.5, 4), breaker.WithOpenDuration(10*time.Second), breaker.WithHalfOpenProbes(1))
		keep(t, b)
		thr := func(s breaker.Status) breaker.Status {
			s.FailureThreshold, s.MinCalls = 0.5, 4
			return s
		}

		checkRow(t, oneRow(t, "status-follows"), wantRow{"closed", "ok", 0, thr(breaker.Status{})})

		_ = b.Do(ctx, succeed)
		_ = b.Do(ctx, fail)
		checkRow(t, oneRow(t, "status-follows"), wantRow{"closed", "ok", 0.5,
			thr(breaker.Status{Calls: 2, Failures: 1, ConsecutiveFailures: 1})})

		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, succeed) // 4 calls, 2 failed: not yet (it trips on a failure)
		_ = b.Do(ctx, fail)    // 3 of 5: opens
		if b.State() != breaker.StateOpen {
			t.Fatalf("breaker %v, want open", b.State())
		}
		checkRow(t, oneRow(t, "status-follows"), wantRow{"open", "bad", 1, thr(breaker.Status{HalfOpenIn: 10})})

		time.Sleep(4 * time.Second)
		checkRow(t, oneRow(t, "status-follows"), wantRow{"open", "bad", 1, thr(breaker.Status{HalfOpenIn: 6})})

		time.Sleep(6 * time.Second)
		checkRow(t, oneRow(t, "status-follows"), wantRow{"half_open", "warn", 0, thr(breaker.Status{})})

		_ = b.Do(ctx, succeed) // the probe closes it
		checkRow(t, oneRow(t, "status-follows"), wantRow{"closed", "ok", 0, thr(breaker.Status{})})
	})
}

func TestStatusOfConsecutiveAndDryRunBreakers(t *testing.T) {
	synctest.Test(t, testDryRunStatus)
}

func testDryRunStatus(t *testing.T) {
	ctx := context.Background()
	b := mustNew(t, "status-dry", breaker.WithConsecutiveFailures(2), breaker.WithDryRun(true))
	keep(t, b)
	_ = b.Do(ctx, fail)
	_ = b.Do(ctx, fail)
	c := oneRow(t, "status-dry")
	// A dry-run breaker lets calls through while open: degraded, not down.
	if c.State != "open" || c.Health != registry.HealthWarn {
		t.Fatalf("state %s health %s, want open warn", c.State, c.Health)
	}
	s := c.Stats.(breaker.Status)
	if !s.DryRun || s.FailureThreshold != 0 || s.MinCalls != 0 || s.HalfOpenIn != breaker.DefaultOpenDuration.Seconds() {
		t.Fatalf("stats = %+v", s)
	}
}

func TestStatusOfATimeWindowBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := mustNew(t, "status-time", breaker.WithTimeWindow(10*time.Second, 10), breaker.WithFailureRate(0.9, 10))
		keep(t, b)
		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, succeed)
		_ = b.Do(ctx, succeed)
		_ = b.Do(ctx, succeed)
		if c := oneRow(t, "status-time"); c.Value != 0.25 || c.Stats.(breaker.Status).Calls != 4 {
			t.Fatalf("row = %+v, want 4 calls, value 0.25", c)
		}
		time.Sleep(11 * time.Second) // the window rolls past them
		if c := oneRow(t, "status-time"); c.Value != 0 || c.Stats.(breaker.Status).Calls != 0 {
			t.Fatalf("row = %+v, want an empty window", c)
		}
	})
}

func TestStatusOfARegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := mustRegistry(t, breaker.WithName("status-upstreams"), breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(time.Minute))
		keep(t, r)
		const keys = breaker.StatusRows + 50
		for i := range keys {
			b := r.Get(fmt.Sprintf("host-%03d", i))
			switch {
			case i%100 == 7: // 3 open: 7, 107, 207
				_ = b.Do(ctx, fail)
			default:
				_ = b.Do(ctx, succeed)
			}
		}
		rows := rowsNamed("status-upstreams")
		if len(rows) != 1+breaker.StatusRows {
			t.Fatalf("%d rows, want a summary and %d keys", len(rows), breaker.StatusRows)
		}
		head := rows[0]
		if head.Key != "" || head.State != "open" || head.Health != registry.HealthWarn || head.Value != 3 {
			t.Fatalf("summary = %+v", head)
		}
		want := breaker.RegistryStatus{Keys: keys, Open: 3, Shown: breaker.StatusRows, Omitted: 50}
		if got := head.Stats.(breaker.RegistryStatus); got != want {
			t.Fatalf("summary stats = %+v, want %+v", got, want)
		}
		// Ordered by key within the report; the open keys are all shown
		// although 207 sorts after the cut of closed ones.
		var open []string
		for _, c := range rows[1:] {
			if c.State == "open" {
				open = append(open, c.Key)
			}
		}
		if got := strings.Join(open, ","); got != "host-007,host-107,host-207" {
			t.Fatalf("open keys shown: %s", got)
		}
		if rows[1].Key != "host-000" || rows[len(rows)-1].Key > "host-207" {
			t.Fatalf("keys from %s to %s", rows[1].Key, rows[len(rows)-1].Key)
		}
	})
}

func TestStatusListsOnlyNamedRegistries(t *testing.T) {
	r := mustRegistry(t)
	r.Get("status-unnamed-key")
	for _, c := range registry.Snapshot() {
		if c.Key == "status-unnamed-key" {
			t.Fatalf("a registry without WithName is listed: %+v", c)
		}
	}
	if _, err := breaker.New("x", breaker.WithName("y")); err == nil || !strings.Contains(err.Error(), "WithName") {
		t.Fatalf("New with WithName: err = %v", err)
	}
	if _, err := breaker.NewRegistry(breaker.WithName("")); err == nil {
		t.Fatal("WithName(\"\") accepted")
	}
}

func TestStatusRegistrationOff(t *testing.T) {
	registry.SetEnabled(false)
	t.Cleanup(func() { registry.SetEnabled(true) })
	keep(t, mustNew(t, "status-off"))
	registry.SetEnabled(true)
	if rows := rowsNamed("status-off"); len(rows) != 0 {
		t.Fatalf("a breaker built with registration off is listed: %+v", rows)
	}
}
