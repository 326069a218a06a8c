package cache

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// now returns the time of the last tick, or false when there is none.
func (k *coarseClock) now() (time.Time, bool) {
	n, ok := k.read()
	return k.base.Add(time.Duration(n)), ok
}

// TestCoarseClockTicksOnlyWhileRead drives the coarse clock in a synctest
// bubble: it stores the time while it is read, parks after a tick nobody
// read, is woken by the next read, and is gone after the last release.
func TestCoarseClockTicksOnlyWhileRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newCoarseClock()
		if _, ok := k.now(); ok {
			t.Fatal("a clock that was never started has a time")
		}
		k.acquire()
		k.acquire()
		synctest.Wait()
		got, ok := k.now()
		if !ok || !got.Equal(time.Now()) {
			t.Fatalf("started clock: %v, %v; want %v", got, ok, time.Now())
		}
		for range 5 { // read at every tick: it keeps ticking
			time.Sleep(clockResolution)
			synctest.Wait()
			if got, ok := k.now(); !ok || !got.Equal(time.Now()) {
				t.Fatalf("clock read every tick: %v, %v at %v", got, ok, time.Now())
			}
		}
		for range 3 { // no reads: it parks after a tick
			time.Sleep(clockResolution)
			synctest.Wait()
		}
		if got, ok := k.now(); ok {
			t.Fatalf("idle clock still stores %v at %v", got, time.Now())
		}
		synctest.Wait() // the read woke it
		if got, ok := k.now(); !ok || !got.Equal(time.Now()) {
			t.Fatalf("woken clock: %v, %v; want %v", got, ok, time.Now())
		}
		k.release()
		if _, ok := k.now(); !ok {
			t.Fatal("the clock stopped while a user holds it")
		}
		k.release()
		if _, ok := k.now(); ok {
			t.Fatal("the clock stores a time after its last release")
		}
	})
}

// TestCoarseClockNeverLeads reads the process's coarse clock while it
// ticks in real time: a read is never ahead of the exact clock, which is
// what keeps a hit from seeing an entry expire early.
func TestCoarseClockNeverLeads(t *testing.T) {
	c, err := New[string, int]("test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.clk != clock {
		t.Fatal("a cache made outside a synctest bubble does not use the coarse clock")
	}
	// Read until the clock has ticked for many reads: on a busy machine
	// the ticker goroutine may not run for a while, so the bound is time,
	// not a count of reads.
	ticks := 0
	for deadline := time.Now().Add(10 * time.Second); ticks < 100000 && time.Now().Before(deadline); {
		got, ok := clock.now()
		if !ok {
			runtime.Gosched() // let the ticker that read woke up run
			continue
		}
		ticks++
		if exact := c.now(); got.After(exact) {
			t.Fatalf("coarse clock read %v after the exact %v", got, exact)
		}
	}
	if ticks == 0 {
		t.Fatal("the coarse clock never ticked")
	}
}

// TestCoarseClockDecidesHits replaces a cache's coarse clock with one the
// test sets: once an entry expired by the exact clock, a hit still serves
// it while the coarse clock is behind the deadline (late by less than a
// tick), and loads when the coarse clock reaches it.
func TestCoarseClockDecidesHits(t *testing.T) {
	c, err := New[string, int]("test", WithTTL(time.Millisecond), WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := &coarseClock{base: clock.base, users: 2} // never started: the test stores its ticks
	c.clk.release()
	c.clk = k
	c.Set("k", 1)
	e, _ := c.shards[0].peek("k")
	if e.fresh.Sub(e.stored) != time.Millisecond {
		t.Fatalf("entry fresh for %v, want 1ms", e.fresh.Sub(e.stored))
	}
	for !c.now().After(e.fresh) { // a condition, not a guess: expired by the exact clock
		runtime.Gosched()
	}
	loads := 0
	load := func(context.Context, string) (int, error) { loads++; return 2, nil }
	for _, tc := range []struct {
		name  string
		at    time.Time
		want  int
		loads int
	}{
		{"a tick before the deadline", e.fresh.Add(-time.Nanosecond), 1, 0},
		{"the tick at the deadline", e.fresh, 2, 1},
	} {
		k.since.Store(int64(tc.at.Sub(k.base)))
		if v, err := c.Get(context.Background(), "k", load); v != tc.want || err != nil || loads != tc.loads {
			t.Errorf("%s: Get = %d, %v after %d loads; want %d after %d", tc.name, v, err, loads, tc.want, tc.loads)
		}
	}
}

// TestSynctestCachesReadTheExactClock: inside a bubble time has no
// monotonic reading and a cache reads the (fake) clock on every Get, so
// tests there stay deterministic.
func TestSynctestCachesReadTheExactClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New[string, int]("test")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.clk != nil {
			t.Fatal("a cache in a synctest bubble uses the coarse clock")
		}
	})
}

// TestCoarseClockCatchUp: a hit that catches the clock up (every
// catchUpHits hits per stripe) moves a lagging time forward to the exact
// one, never back, and leaves a parked clock parked.
func TestCoarseClockCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newCoarseClock()
		exact := func() int64 { return int64(time.Since(k.base)) }
		for _, tc := range []struct {
			name   string
			stored int64
			want   func() int64
		}{
			{"lagging", exact() - int64(10*time.Millisecond), exact},
			{"ahead", exact() + 1, func() int64 { return exact() + 1 }},
			{"parked", 0, func() int64 { return 0 }},
		} {
			k.since.Store(tc.stored)
			k.catchUp()
			if got, want := k.since.Load(), tc.want(); got != want {
				t.Errorf("%s: %d after catchUp, want %d", tc.name, got, want)
			}
		}
	})
}

// TestHitsCatchTheClockUp: a cache whose clock's ticker is held up still
// sees time pass after catchUpHits hits on a stripe.
func TestHitsCatchTheClockUp(t *testing.T) {
	c, err := New[string, int]("test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := &coarseClock{base: clock.base, users: 2} // never started: no ticker moves it
	c.clk.release()
	c.clk = k
	lag := int64(time.Since(k.base)) - int64(time.Second)
	k.since.Store(lag)
	c.Set("k", 1)
	for range catchUpHits {
		if v, ok := c.Peek("k"); !ok || v != 1 {
			t.Fatal("the value is gone")
		}
		c.Get(context.Background(), "k", nil)
	}
	if got := k.since.Load(); got <= lag+int64(time.Second) {
		t.Errorf("after %d hits the clock still lags: %v", catchUpHits, time.Duration(got-lag))
	}
}
