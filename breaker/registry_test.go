package breaker_test

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
)

func TestRegistryIsBounded(t *testing.T) {
	r := mustRegistry(t) // default: 10k keys
	for i := range 25_000 {
		r.Get("tenant-" + strconv.Itoa(i))
	}
	if n := r.Len(); n != breaker.DefaultMaxKeys {
		t.Fatalf("Len = %d, want %d", n, breaker.DefaultMaxKeys)
	}
}

func TestRegistryConcurrentFirstUseCreatesOneBreakerPerKey(t *testing.T) {
	r := mustRegistry(t)
	const goroutines, keys = 8, 1000
	got := make([][]*breaker.Breaker, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range keys {
				k := (i + g*keys/goroutines) % keys // each goroutine starts elsewhere
				if got[g] == nil {
					got[g] = make([]*breaker.Breaker, keys)
				}
				got[g][k] = r.Get("k" + strconv.Itoa(k))
			}
		})
	}
	wg.Wait()
	for k := range keys {
		for g := 1; g < goroutines; g++ {
			if got[g][k] != got[0][k] {
				t.Fatalf("key %d: goroutines got different breakers", k)
			}
		}
		if name := got[0][k].Name(); name != "k"+strconv.Itoa(k) {
			t.Fatalf("key %d: breaker named %q", k, name)
		}
	}
	if r.Len() != keys {
		t.Fatalf("Len = %d, want %d", r.Len(), keys)
	}
}

func TestRegistryEvictsLeastRecentlyUsed(t *testing.T) {
	r := mustRegistry(t, breaker.WithMaxKeys(2))
	a, b := r.Get("a"), r.Get("b")
	r.Get("a") // a is now the most recently used
	r.Get("c") // evicts b
	if r.Get("a") != a {
		t.Fatal("the recently used key lost its breaker")
	}
	if r.Get("b") == b {
		t.Fatal("the least recently used key kept its breaker")
	}
	if r.Len() != 2 {
		t.Fatalf("Len = %d", r.Len())
	}
}

// TestRegistryEvictionKeepsOpenBreakers checks the documented choice: an
// evicted breaker that is open, or half-open with probes in flight, is
// parked and keeps rejecting for its key; once it holds nothing open, an
// idle one is forgotten.
func TestRegistryEvictionKeepsOpenBreakers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := mustRegistry(t, breaker.WithMaxKeys(2), breaker.WithConsecutiveFailures(1), breaker.WithHalfOpenProbes(1))
		open := r.Get("open")
		_ = open.Do(ctx, fail)
		r.Get("x")
		r.Get("y") // pushes "open" out of the LRU
		if r.Len() != 3 {
			t.Fatalf("Len = %d, want 2 in the LRU + 1 parked", r.Len())
		}
		if got := r.Get("open"); got != open || got.State() != breaker.StateOpen {
			t.Fatal("an evicted open breaker was forgotten")
		}
		if err := r.Get("open").Do(ctx, succeed); openErr(t, err).RetryAfter != 30*time.Second {
			t.Fatalf("evicted open breaker: %v", err)
		}
		// Using it moved it back into the LRU, evicting "x" (closed: forgotten).
		if r.Len() != 2 {
			t.Fatalf("Len = %d after reuse, want 2", r.Len())
		}

		// Park it again, let the open time pass: idle, it is forgotten on
		// the next sweep and its key starts afresh, closed.
		r.Get("z1")
		r.Get("z2")
		time.Sleep(31 * time.Second)
		r.Get("z3") // sweeps
		if got := r.Get("open"); got == open || got.State() != breaker.StateClosed {
			t.Fatal("an idle breaker past its open time was kept")
		}

		// A half-open breaker with its probe in flight stays parked.
		probing := r.Get("probing")
		_ = probing.Do(ctx, fail)
		time.Sleep(31 * time.Second)
		release := make(chan struct{})
		go func() { _ = probing.Do(ctx, func(context.Context) error { <-release; return nil }) }()
		synctest.Wait()
		for i := range 5 {
			r.Get("w" + strconv.Itoa(i))
		}
		if r.Get("probing") != probing {
			t.Fatal("a half-open breaker with a probe in flight was forgotten")
		}
		close(release)
		synctest.Wait()
		if probing.State() != breaker.StateClosed {
			t.Fatalf("probe did not close it: %v", probing.State())
		}
	})
}

func TestRegistryParkedBreakersAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logRecorder{}
		r, err := breaker.NewRegistry(breaker.WithMaxKeys(1), breaker.WithConsecutiveFailures(1), breaker.WithLogger(slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b", "c"} { // each open one pushes the last
			_ = r.Get(k).Do(context.Background(), fail)
		}
		if r.Len() != 2 {
			t.Fatalf("Len = %d, want 1 in the LRU + 1 parked", r.Len())
		}
		var forgot []string
		for _, l := range logs.Lines() {
			if strings.Contains(l, "registry full") {
				forgot = append(forgot, l)
			}
		}
		want := []string{"WARN breaker registry full: forgot an open breaker breaker=a max_keys=1"}
		if !equal(forgot, want) {
			t.Fatalf("logs %q, want %q", forgot, want)
		}
	})
}

func TestRegistryMetricName(t *testing.T) {
	m := newMeter(t)
	r := mustRegistry(t, breaker.WithMeterProvider(m), breaker.WithMetricName("tenants"))
	for i := range 5 {
		_ = r.Get("tenant-"+strconv.Itoa(i)).Do(context.Background(), succeed)
	}
	if got := m.calls(t, "tenants"); !maps.Equal(got, map[string]int64{"success": 5}) {
		t.Fatalf("calls under the registry name: %v", got)
	}
	if got := m.calls(t, "tenant-0"); len(got) != 0 {
		t.Fatalf("a key became a metric attribute: %v", got)
	}
	if got := m.states(t, "tenant-0"); len(got) != 0 {
		t.Fatalf("per-key state gauge recorded: %v", got)
	}
}

func TestRegistryKeysBecomeNames(t *testing.T) {
	m := newMeter(t)
	r := mustRegistry(t, breaker.WithMeterProvider(m))
	_ = r.Get("api.example.com").Do(context.Background(), fail)
	if got := m.calls(t, "api.example.com"); !maps.Equal(got, map[string]int64{"failure": 1}) {
		t.Fatalf("calls %v", got)
	}
	if got := m.states(t, "api.example.com"); got["closed"] != 1 {
		t.Fatalf("states %v", got)
	}
}

// TestRegistryParkedKeyInUseReturnsToLRU checks the documented promise
// that using a parked key moves it back into the LRU, so a key in active
// use keeps its breaker through half-open instead of being swept as idle
// between probes and restarting closed. With 32 keys the clock ticks
// every 2 inserts, so the key can be parked and used within one tick.
func TestRegistryParkedKeyInUseReturnsToLRU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := mustRegistry(t, breaker.WithMaxKeys(32), breaker.WithConsecutiveFailures(1))
		for i := range 31 {
			r.Get("k" + strconv.Itoa(i))
		}
		hot := r.Get("hot") // the 32nd insert
		_ = hot.Do(ctx, fail)
		for i := range 31 { // every other key is used after "hot"
			r.Get("k" + strconv.Itoa(i))
		}
		r.Get("new-1") // parks "hot", the least recently used
		if r.Len() != 33 {
			t.Fatalf("Len = %d, want 32 in the LRU + 1 parked", r.Len())
		}
		// The key is in use: every call goes through its breaker.
		if err := r.Get("hot").Do(ctx, succeed); openErr(t, err).State != breaker.StateOpen {
			t.Fatalf("parked breaker: %v", err)
		}
		time.Sleep(30 * time.Second)
		if err := r.Get("hot").Do(ctx, succeed); err != nil { // first of 3 probes
			t.Fatalf("probe: %v", err)
		}
		r.Get("new-2") // a new key: sweeps parked breakers that hold nothing open
		got := r.Get("hot")
		if got != hot {
			t.Fatalf("a key in use lost its half-open breaker: now %v, %+v", got.State(), got.Counts())
		}
		if st := got.State(); st != breaker.StateHalfOpen {
			t.Fatalf("state %v, want half_open", st)
		}
	})
}

// TestRegistryDroppedBreakerLeavesNoStateSeries checks that a breaker the
// registry forgets while its state is open stops reporting
// paved.breaker.state, instead of reading open=1 forever.
func TestRegistryDroppedBreakerLeavesNoStateSeries(t *testing.T) {
	tests := []struct {
		name string
		// drop makes the registry forget "a", which is open.
		drop func(reg *breaker.Registry)
	}{
		{"idle past its open time", func(reg *breaker.Registry) {
			time.Sleep(breaker.DefaultOpenDuration + time.Second)
			reg.Get("b")
		}},
		{"parked list full", func(reg *breaker.Registry) {
			_ = reg.Get("b").Do(context.Background(), fail) // parks a
			_ = reg.Get("c").Do(context.Background(), fail) // parks b, forgets a
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMeter(t)
				reg := mustRegistry(t, breaker.WithMaxKeys(1), breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(m))
				_ = reg.Get("a").Do(context.Background(), fail)
				if got, want := m.states(t, "a"), map[string]int64{"closed": 0, "open": 1, "half_open": 0}; !maps.Equal(got, want) {
					t.Fatalf("open breaker: state %v, want %v", got, want)
				}
				tc.drop(reg)
				if got := m.states(t, "a"); len(got) != 0 {
					t.Fatalf("forgotten breaker still reports state %v", got)
				}
				if got := m.states(t, "b"); got["open"]+got["closed"] != 1 {
					t.Fatalf("live breaker b reports %v", got)
				}
			})
		})
	}
}

// TestStateGaugeHalfOpensWithTime checks that paved.breaker.state reads
// half_open once the open duration has passed, as State does, even with
// no call since.
func TestStateGaugeHalfOpensWithTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMeter(t)
		b := mustNew(t, "a", breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(m))
		_ = b.Do(context.Background(), fail)
		time.Sleep(breaker.DefaultOpenDuration)
		if got, want := m.states(t, "a"), map[string]int64{"closed": 0, "open": 0, "half_open": 1}; !maps.Equal(got, want) {
			t.Fatalf("state %v, want %v", got, want)
		}
	})
}
