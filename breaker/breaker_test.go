package breaker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
)

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		bname   string
		opts    []breaker.Option
		wantErr string
	}{
		{"empty name", "", nil, "breaker: New: empty name"},
		{"rate zero", "b", []breaker.Option{breaker.WithFailureRate(0, 10)}, "rate 0 is not in (0, 1]"},
		{"rate above one", "b", []breaker.Option{breaker.WithFailureRate(1.5, 10)}, "rate 1.5 is not in (0, 1]"},
		{"no minimum calls", "b", []breaker.Option{breaker.WithFailureRate(0.5, 0)}, "minimum calls 0 is below 1"},
		{"min calls over window", "b", []breaker.Option{breaker.WithCountWindow(5)}, "minimum calls 10 exceed the count window of 5 calls"},
		{"count window zero", "b", []breaker.Option{breaker.WithCountWindow(0)}, "WithCountWindow: 0 calls"},
		{"time window zero", "b", []breaker.Option{breaker.WithTimeWindow(0, 10)}, "WithTimeWindow: window 0s is not positive"},
		{"time window buckets", "b", []breaker.Option{breaker.WithTimeWindow(time.Minute, 0)}, "WithTimeWindow: 0 buckets"},
		{"consecutive zero", "b", []breaker.Option{breaker.WithConsecutiveFailures(0)}, "WithConsecutiveFailures: 0"},
		{"open duration", "b", []breaker.Option{breaker.WithOpenDuration(-time.Second)}, "WithOpenDuration: -1s is not positive"},
		{"growth factor", "b", []breaker.Option{breaker.WithOpenDurationGrowth(1, time.Minute)}, "factor 1 is not above 1"},
		{"growth cap", "b", []breaker.Option{breaker.WithOpenDurationGrowth(2, time.Second)}, "cap 1s is below the open duration 30s"},
		{"probes", "b", []breaker.Option{breaker.WithHalfOpenProbes(0)}, "WithHalfOpenProbes: 0"},
		{"slow threshold", "b", []breaker.Option{breaker.WithSlowCallThreshold(-1)}, "WithSlowCallThreshold: -1ns is negative"},
		{"nil error handler", "b", []breaker.Option{breaker.WithErrorHandler(nil)}, "WithErrorHandler: nil handler"},
		{"registry option", "b", []breaker.Option{breaker.WithMaxKeys(5)}, "WithMaxKeys is an option of NewRegistry"},
		{"first error wins", "b", []breaker.Option{breaker.WithOpenDuration(0), breaker.WithHalfOpenProbes(0)}, "WithOpenDuration"},
		{"nil option", "b", []breaker.Option{breaker.WithOpenDuration(time.Second), nil}, "option 1 is nil"},
		{"nil filter", "b", []breaker.Option{breaker.WithFilter(nil)}, "WithFilter: nil function"},
		{"nil transport fallback", "b", []breaker.Option{breaker.WithTransportFallback(nil)}, "WithTransportFallback: nil function"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := breaker.New(tc.bname, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "breaker: ") {
				t.Fatalf("New = %v, %v; want an error containing %q", b, err, tc.wantErr)
			}
		})
	}
	if _, err := breaker.NewRegistry(breaker.WithMaxKeys(0)); err == nil || !strings.Contains(err.Error(), "WithMaxKeys: 0 is below 1") {
		t.Fatalf("NewRegistry(WithMaxKeys(0)) error = %v", err)
	}
	if _, err := breaker.NewRegistry(nil); err == nil || !strings.Contains(err.Error(), "option 0 is nil") {
		t.Fatalf("NewRegistry(nil option) error = %v", err)
	}
}

// TestTripsAtConfiguredRate runs a sequence of outcomes ('s' success,
// 'f' failure) and checks the breaker opens right after call openAt
// (1-based), and not before; 0 means it stays closed.
func TestTripsAtConfiguredRate(t *testing.T) {
	tests := []struct {
		name   string
		opts   []breaker.Option
		calls  string
		openAt int
	}{
		{"default: 10 calls needed", nil, "fffffffff", 0},
		{"default: 10 failures of 10", nil, "ffffffffff", 10},
		{"default: exactly 50% at the minimum", nil, "sssssffff" + "f", 10},
		{"default: 40% and 45% are not enough", nil, "ssssssffff" + "f" + "f", 12},
		{"default: window slides over old successes", nil, strings.Repeat("s", 20) + "ffffffffff", 30},
		{"default: window of 20 forgets old failures", nil, "fffff" + strings.Repeat("s", 20) + "fffff", 0},
		{"rate 0.3 meets exactly 3 of 10", []breaker.Option{breaker.WithFailureRate(0.3, 10)}, "sssssssfff", 10},
		{"min calls 4", []breaker.Option{breaker.WithFailureRate(0.5, 4)}, "sff", 0},
		{"min calls 4 reached", []breaker.Option{breaker.WithFailureRate(0.5, 4)}, "sfsf", 4},
		{"count window 4", []breaker.Option{breaker.WithFailureRate(0.5, 4), breaker.WithCountWindow(4)}, "ssssssssff", 10},
		{"consecutive failures", []breaker.Option{breaker.WithConsecutiveFailures(3)}, "ffsffsff" + "f", 9},
		{"consecutive ignores the rate", []breaker.Option{breaker.WithConsecutiveFailures(3)}, "fsfsfsfsfsfsfsfsfsfs", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNew(t, "t", tc.opts...)
			for i, c := range tc.calls {
				fn := succeed
				if c == 'f' {
					fn = fail
				}
				if err := b.Do(context.Background(), fn); err != nil && !errors.Is(err, errBoom) {
					t.Fatalf("call %d: unexpected rejection %v", i+1, err)
				}
				want := breaker.StateClosed
				if tc.openAt > 0 && i+1 >= tc.openAt {
					want = breaker.StateOpen
				}
				if got := b.State(); got != want {
					t.Fatalf("after call %d (%q): state %v, want %v; counts %+v", i+1, tc.calls[:i+1], got, want, b.Counts())
				}
				if want == breaker.StateOpen {
					return
				}
			}
		})
	}
}

func TestOpenHalfOpenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := mustNew(t, "t", breaker.WithConsecutiveFailures(1))
		_ = b.Do(ctx, fail)

		ran := false
		err := b.Do(ctx, func(context.Context) error { ran = true; return nil })
		oe := openErr(t, err)
		if ran || !errors.Is(err, breaker.ErrOpen) || errors.Is(err, breaker.ErrTooManyRequests) {
			t.Fatalf("open breaker: ran=%v err=%v", ran, err)
		}
		if *oe != (breaker.OpenError{Name: "t", State: breaker.StateOpen, RetryAfter: 30 * time.Second}) || oe.Error() != "breaker: open" {
			t.Fatalf("OpenError = %+v (%q)", *oe, oe.Error())
		}

		time.Sleep(29*time.Second + 500*time.Millisecond)
		if oe := openErr(t, b.Do(ctx, succeed)); oe.RetryAfter != 500*time.Millisecond || oe.RetryDelay() != oe.RetryAfter {
			t.Fatalf("RetryAfter = %v, want 500ms", oe.RetryAfter)
		}
		time.Sleep(500*time.Millisecond - time.Nanosecond) // its last instant: still open
		if st := b.State(); st != breaker.StateOpen {
			t.Fatalf("just before 30s: %v", st)
		}
		// Exactly RetryAfter later it is half-open: a caller that waits what
		// it was told is let through.
		time.Sleep(time.Nanosecond)
		if st := b.State(); st != breaker.StateHalfOpen {
			t.Fatalf("at 30s: %v", st)
		}

		// Half-open admits exactly 3 probes; the 4th is rejected.
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := b.Do(ctx, func(context.Context) error { <-release; return nil }); err != nil {
					t.Errorf("probe: %v", err)
				}
			})
		}
		synctest.Wait() // all three probes are in flight
		err = b.Do(ctx, succeed)
		if oe := openErr(t, err); !errors.Is(err, breaker.ErrTooManyRequests) || oe.State != breaker.StateHalfOpen || oe.RetryAfter != time.Second || oe.Error() != "breaker: too many requests" {
			t.Fatalf("4th probe: %+v, %v", oe, err)
		}
		close(release)
		wg.Wait()
		if st := b.State(); st != breaker.StateClosed {
			t.Fatalf("after 3 good probes: %v", st)
		}
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatal(err)
		}
	})
}

func TestProbeFailureReopensWithGrowingOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := mustNew(t, "t", breaker.WithConsecutiveFailures(1), breaker.WithHalfOpenProbes(1),
			breaker.WithOpenDuration(10*time.Second), breaker.WithOpenDurationGrowth(2, 50*time.Second))
		_ = b.Do(ctx, fail)
		var got []time.Duration
		for range 5 {
			oe := openErr(t, b.Do(ctx, succeed))
			got = append(got, oe.RetryAfter)
			// Still open a second before the end, beyond the base 10s too.
			time.Sleep(oe.RetryAfter - time.Second)
			if oe := openErr(t, b.Do(ctx, succeed)); oe.RetryAfter != time.Second {
				t.Fatalf("a second before half-open: RetryAfter %v", oe.RetryAfter)
			}
			time.Sleep(time.Second)
			if err := b.Do(ctx, fail); !errors.Is(err, errBoom) { // the probe fails
				t.Fatalf("probe: %v", err)
			}
		}
		want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 50 * time.Second, 50 * time.Second}
		if !equal(got, want) {
			t.Fatalf("open durations %v, want %v", got, want)
		}
		// A good probe closes it; the next trip starts at the base again.
		time.Sleep(50 * time.Second)
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatal(err)
		}
		_ = b.Do(ctx, fail)
		if oe := openErr(t, b.Do(ctx, succeed)); oe.RetryAfter != 10*time.Second {
			t.Fatalf("after closing, open for %v, want 10s", oe.RetryAfter)
		}
	})
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCountWindowVersusTimeWindow runs one timed sequence through both
// windows: the time window forgets failures older than its window, the
// count window only older than its last N calls.
func TestCountWindowVersusTimeWindow(t *testing.T) {
	type step struct {
		wait time.Duration
		fail int // this many failures after waiting
	}
	seq := []step{{0, 3}, {11 * time.Second, 1}}
	tests := []struct {
		name       string
		opt        breaker.Option
		want       breaker.State
		wantCounts breaker.Counts
	}{
		{"count window keeps old failures", breaker.WithCountWindow(10), breaker.StateOpen, breaker.Counts{}},
		{"time window drops them", breaker.WithTimeWindow(10*time.Second, 10), breaker.StateClosed,
			breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := mustNew(t, "t", breaker.WithFailureRate(0.5, 4), tc.opt)
				for _, s := range seq {
					time.Sleep(s.wait)
					for range s.fail {
						_ = b.Do(context.Background(), fail)
					}
				}
				if st := b.State(); st != tc.want {
					t.Fatalf("state %v, want %v", st, tc.want)
				}
				if c := b.Counts(); c != tc.wantCounts {
					t.Fatalf("counts %+v, want %+v", c, tc.wantCounts)
				}
			})
		})
	}
}

func TestTimeWindowRollsBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, "t", breaker.WithFailureRate(0.5, 4), breaker.WithTimeWindow(10*time.Second, 5))
		ctx := context.Background()
		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, fail)
		time.Sleep(4 * time.Second)
		_ = b.Do(ctx, succeed)
		if c := b.Counts(); c.Calls != 3 || c.Failures != 2 {
			t.Fatalf("at 4s: %+v", c)
		}
		time.Sleep(6 * time.Second) // the first bucket (0-2s) has rolled out
		if c := b.Counts(); c.Calls != 1 || c.Failures != 0 {
			t.Fatalf("at 10s: %+v", c)
		}
		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, fail) // 3 of 4 in the window
		if st := b.State(); st != breaker.StateOpen {
			t.Fatalf("state %v", st)
		}
	})
}

// TestNilProvidersAreDefaults: a nil MeterProvider or Logger means the
// default, never an error or a panic at the first call.
func TestNilProvidersAreDefaults(t *testing.T) {
	tests := []struct {
		name string
		opt  breaker.Option
	}{
		{"nil meter provider", breaker.WithMeterProvider(nil)},
		{"nil logger", breaker.WithLogger(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := breaker.New("b", tc.opt, breaker.WithConsecutiveFailures(1))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := b.Do(context.Background(), fail); err != errBoom {
				t.Fatalf("Do = %v", err)
			}
			if st := b.State(); st != breaker.StateOpen {
				t.Fatalf("state %v", st)
			}
			if _, err := breaker.NewRegistry(tc.opt); err != nil {
				t.Fatalf("NewRegistry: %v", err)
			}
		})
	}
}
