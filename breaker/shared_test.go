package breaker_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
)

// memStore is a breaker.SharedStore in memory, shared by the breakers of
// a test as a Redis would be by processes. It can be made to fail.
type memStore struct {
	mu     sync.Mutex
	data   map[string][]byte
	locked map[string]bool
	down   bool
	calls  int // store calls made, failed ones included
}

var errStoreDown = errors.New("store down")

func newMemStore() *memStore {
	return &memStore{data: map[string][]byte{}, locked: map[string]bool{}}
}

func (m *memStore) op() error {
	m.calls++
	if m.down {
		return errStoreDown
	}
	return nil
}

func (m *memStore) Lock(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op(); err != nil {
		return err
	}
	if m.locked[name] {
		return errors.New("locked")
	}
	m.locked[name] = true
	return nil
}

func (m *memStore) Unlock(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op(); err != nil {
		return err
	}
	delete(m.locked, name)
	return nil
}

func (m *memStore) GetData(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op(); err != nil {
		return nil, err
	}
	return m.data[name], nil
}

func (m *memStore) SetData(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op(); err != nil {
		return err
	}
	m.data[name] = append([]byte(nil), data...)
	return nil
}

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func (m *memStore) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

func TestSharedStateRejectsWhatItCannotShare(t *testing.T) {
	store := newMemStore()
	tests := []struct {
		name string
		opts []breaker.Option
		want string
	}{
		{"default count window", []breaker.Option{breaker.WithSharedState(store)}, "needs WithTimeWindow or WithConsecutiveFailures"},
		{"explicit count window", []breaker.Option{breaker.WithSharedState(store), breaker.WithCountWindow(10)}, "needs WithTimeWindow or WithConsecutiveFailures"},
		{"growth", []breaker.Option{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(3), breaker.WithOpenDurationGrowth(2, time.Minute)}, "WithOpenDurationGrowth cannot be used with WithSharedState"},
		{"nil store", []breaker.Option{breaker.WithSharedState(nil), breaker.WithConsecutiveFailures(3)}, "WithSharedState: nil store"},
		{"zero retry", []breaker.Option{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(3), breaker.WithSharedStateRetry(0)}, "WithSharedStateRetry: 0s is not positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := breaker.New("svc", tc.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), "breaker: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: err = %v, want one containing %q", err, tc.want)
			}
			if _, err := breaker.NewRegistry(tc.opts...); err == nil {
				t.Fatal("NewRegistry accepted the options")
			}
		})
	}
	for _, opts := range [][]breaker.Option{
		{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(3)},
		{breaker.WithSharedState(store), breaker.WithTimeWindow(time.Minute, 6)},
	} {
		if _, err := breaker.New("svc", opts...); err != nil {
			t.Errorf("New: %v", err)
		}
	}
	if n := store.callCount(); n != 0 {
		t.Errorf("building breakers made %d store calls, want 0", n)
	}
}

// pair returns two breakers named name sharing store, as two processes
// would: each has its own gobreaker.
func pair(t *testing.T, store breaker.SharedStore, opts ...breaker.Option) (a, b *breaker.Breaker) {
	opts = append([]breaker.Option{breaker.WithSharedState(store)}, opts...)
	return mustNew(t, "inventory", opts...), mustNew(t, "inventory", opts...)
}

func TestSharedStateTripOpensEveryInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		logs := &logRecorder{}
		opts := []breaker.Option{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(3),
			breaker.WithOpenDuration(10 * time.Second), breaker.WithHalfOpenProbes(1)}
		a := mustNew(t, "inventory", opts...)
		b := mustNew(t, "inventory", append(opts, breaker.WithLogger(slog.New(logs)))...)
		ctx := context.Background()
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := a.Do(ctx, fail); !errors.Is(err, errBoom) {
				t.Fatalf("a: err = %v, want errBoom", err)
			}
		}
		if a.State() != breaker.StateOpen {
			t.Fatalf("a: state %v, want open", a.State())
		}
		ran := false
		err := b.Do(ctx, func(context.Context) error { ran = true; return nil })
		if oe := openErr(t, err); !errors.Is(err, breaker.ErrOpen) || oe.RetryAfter != 10*time.Second {
			t.Fatalf("b: err = %v (retry after %v), want ErrOpen after 10s", err, oe.RetryAfter)
		}
		if ran || b.State() != breaker.StateOpen {
			t.Fatalf("b: ran %v, state %v; want a rejection in state open", ran, b.State())
		}
		// b reports the transition it learned from the store.
		if l := logs.Lines(); len(l) != 1 || l[0] != "WARN breaker opened breaker=inventory from=closed to=open open_for=10s shared=true" {
			t.Errorf("b logged %q", l)
		}

		// Once open, b rejects without asking the store.
		before := store.callCount()
		_ = b.Do(ctx, succeed)
		if n := store.callCount() - before; n != 0 {
			t.Errorf("an open breaker made %d store calls, want 0", n)
		}

		// After the open time, b's probe closes the breaker for a too.
		time.Sleep(10 * time.Second)
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatalf("b: probe: %v", err)
		}
		if b.State() != breaker.StateClosed {
			t.Fatalf("b: state %v after a good probe, want closed", b.State())
		}
		if err := a.Do(ctx, succeed); err != nil {
			t.Fatalf("a: %v", err)
		}
		if a.State() != breaker.StateClosed {
			t.Fatalf("a: state %v, want closed", a.State())
		}
	})
}

func TestSharedStateHalfOpenFailureReopensEverywhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a, b := pair(t, store, breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(time.Second), breaker.WithHalfOpenProbes(2))
		ctx := context.Background()
		_ = a.Do(ctx, fail)
		time.Sleep(time.Second)
		if err := a.Do(ctx, succeed); err != nil { // one probe of two
			t.Fatal(err)
		}
		if st := a.State(); st != breaker.StateHalfOpen {
			t.Fatalf("a: state %v, want half_open", st)
		}
		_ = b.Do(ctx, fail) // b's probe fails: open again for everyone
		if err := a.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("a: err = %v, want ErrOpen", err)
		}
	})
}

func TestSharedStateStoreDownDecidesLocally(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		logs := &logRecorder{}
		m := newMeter(t)
		opts := []breaker.Option{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(2),
			breaker.WithOpenDuration(time.Minute), breaker.WithSharedStateRetry(time.Second)}
		a := mustNew(t, "inventory", append(opts, breaker.WithLogger(slog.New(logs)), breaker.WithMeterProvider(m))...)
		b := mustNew(t, "inventory", opts...)
		ctx := context.Background()
		if err := a.Do(ctx, succeed); err != nil {
			t.Fatal(err)
		}

		store.setDown(true)
		for i := range 10 {
			if err := a.Do(ctx, succeed); err != nil {
				t.Fatalf("call %d with the store down: %v", i, err)
			}
		}
		if n := store.callCount(); n > 5+1 {
			t.Errorf("%d store calls, want at most one failed one after the 5 of the first call", n)
		}
		// Local state still trips.
		_ = a.Do(ctx, fail)
		_ = a.Do(ctx, fail)
		if err := a.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("err = %v, want a local ErrOpen", err)
		}
		fallbacks := m.points(t, "paved.breaker.shared.fallbacks", "inventory", "reason")
		if fallbacks["store_error"] != 1 || fallbacks["skipped"] != 11 {
			t.Errorf("fallbacks %v, want 1 store_error and 11 skipped", fallbacks)
		}
		if got := countLines(logs, "breaker shared state unavailable: deciding locally"); got != 1 {
			t.Errorf("%d unavailable lines, want 1:\n%s", got, strings.Join(logs.Lines(), "\n"))
		}

		// The store comes back: after the retry time b shares again.
		store.setDown(false)
		time.Sleep(time.Second)
		for range 2 {
			_ = b.Do(ctx, fail)
		}
		if err := b.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("b: err = %v, want ErrOpen", err)
		}
		c := mustNew(t, "inventory", opts...)
		if err := c.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("c: err = %v, want ErrOpen from the shared state", err)
		}
		if got := countLines(logs, "breaker shared state restored"); got != 0 {
			t.Errorf("a logged a restore it has not seen:\n%s", strings.Join(logs.Lines(), "\n"))
		}
	})
}

func TestSharedStateRegistry(t *testing.T) {
	store := newMemStore()
	opts := []breaker.Option{breaker.WithSharedState(store), breaker.WithConsecutiveFailures(2)}
	r1, r2 := mustRegistry(t, opts...), mustRegistry(t, opts...)
	ctx := context.Background()
	_ = r1.Get("host-a").Do(ctx, fail)
	_ = r1.Get("host-a").Do(ctx, fail)
	if err := r2.Get("host-a").Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("r2 host-a: err = %v, want ErrOpen", err)
	}
	if err := r2.Get("host-b").Do(ctx, succeed); err != nil {
		t.Fatalf("r2 host-b: %v", err)
	}
}

// countLines counts the log lines with message msg.
func countLines(h *logRecorder, msg string) int {
	n := 0
	for _, l := range h.Lines() {
		if strings.HasPrefix(l, "WARN "+msg+" ") {
			n++
		}
	}
	return n
}

func TestSharedStatePanicCountsAsFailure(t *testing.T) {
	store := newMemStore()
	a, b := pair(t, store, breaker.WithConsecutiveFailures(1))
	ctx := context.Background()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic re-raised", r)
			}
		}()
		_ = a.Do(ctx, func(context.Context) error { panic("boom") })
	}()
	if err := b.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("b: err = %v, want ErrOpen", err)
	}
}

func TestSharedStateHalfOpenLimitsProbesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a := mustNew(t, "inventory", breaker.WithSharedState(store), breaker.WithConsecutiveFailures(1),
			breaker.WithOpenDuration(time.Second), breaker.WithHalfOpenProbes(1))
		ctx := context.Background()
		_ = a.Do(ctx, fail)
		time.Sleep(time.Second)
		release := make(chan struct{})
		go func() {
			_ = a.Do(ctx, func(context.Context) error { <-release; return nil })
		}()
		synctest.Wait()
		err := a.Do(ctx, succeed)
		if !errors.Is(err, breaker.ErrTooManyRequests) {
			t.Fatalf("second probe: err = %v, want ErrTooManyRequests", err)
		}
		close(release)
		synctest.Wait()
		if st := a.State(); st != breaker.StateClosed {
			t.Fatalf("state %v after the probe succeeded, want closed", st)
		}
	})
}

// FuzzSharedState feeds a breaker whatever the store holds: a state
// written by another version, or garbage. No call may fail because of
// it, and the breaker rewrites a state it cannot use.
func FuzzSharedState(f *testing.F) {
	f.Add([]byte(`{"state":1,"generation":3,"age":0,"counts":{},"buckets":[{}],"start":"2026-01-01T00:00:00Z","expiry":"2999-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"state":7}`))
	f.Add([]byte(`{"state":0,"buckets":null,"expiry":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		store := newMemStore()
		b := mustNew(t, "inventory", breaker.WithSharedState(store), breaker.WithTimeWindow(time.Minute, 4))
		ctx := context.Background()
		for i := range 3 {
			store.mu.Lock()
			store.data["inventory"] = data
			store.mu.Unlock()
			err := b.Do(ctx, succeed)
			if err != nil && !errors.Is(err, breaker.ErrOpen) && !errors.Is(err, breaker.ErrTooManyRequests) {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})
}

func TestSharedStateOpenBeyondOpenDurationIsReplaced(t *testing.T) {
	store := newMemStore()
	a := mustNew(t, "inventory", breaker.WithSharedState(store), breaker.WithConsecutiveFailures(1), breaker.WithOpenDuration(time.Minute))
	// Written by an instance whose clock is a day ahead.
	store.data["inventory"] = []byte(`{"state":2,"generation":9,"counts":{},"buckets":[{}],"start":"2026-01-01T00:00:00Z","expiry":"` +
		time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339Nano) + `"}`)
	if err := a.Do(context.Background(), succeed); err != nil {
		t.Fatalf("err = %v: a state open for a day was believed", err)
	}
	if got := string(store.data["inventory"]); !strings.Contains(got, `"state":0`) {
		t.Fatalf("store holds %s, want it replaced by a closed state", got)
	}
}

// panicStore panics in Lock once, as a buggy store might.
type panicStore struct {
	*memStore
	panicked bool
}

func (p *panicStore) Lock(name string) error {
	if !p.panicked {
		p.panicked = true
		panic("store bug")
	}
	return p.memStore.Lock(name)
}

func TestSharedStorePanicDoesNotWedgeRecording(t *testing.T) {
	store := &panicStore{memStore: newMemStore()}
	a := mustNew(t, "inventory", breaker.WithSharedState(store), breaker.WithConsecutiveFailures(1))
	ctx := context.Background()
	func() {
		defer func() {
			if r := recover(); r != "store bug" {
				t.Errorf("recovered %v", r)
			}
		}()
		_ = a.Do(ctx, succeed)
	}()
	_ = a.Do(ctx, fail) // recorded in the store: recording is not stuck
	b := mustNew(t, "inventory", breaker.WithSharedState(store.memStore), breaker.WithConsecutiveFailures(1))
	if err := b.Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("b: err = %v, want ErrOpen", err)
	}
}
