package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errFlaky = errors.New("flaky")

// attempts runs r.Do with fn failing the first n calls and records when
// each attempt started, relative to the first.
func attempts(t *testing.T, ctx context.Context, r *retry.Retrier, failFirst int, fail error) ([]time.Duration, error) {
	t.Helper()
	var starts []time.Duration
	var t0 time.Time
	err := r.Do(ctx, func(context.Context) error {
		if t0.IsZero() {
			t0 = time.Now()
		}
		starts = append(starts, time.Since(t0))
		if len(starts) <= failFirst {
			return fail
		}
		return nil
	})
	return starts, err
}

func mustNew(t *testing.T, opts ...retry.Option) *retry.Retrier {
	t.Helper()
	r, err := retry.New("test", append([]retry.Option{retry.WithBudget(nil)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBackoffBounds(t *testing.T) {
	const base, cap = 100 * time.Millisecond, 800 * time.Millisecond
	tests := []struct {
		name    string
		backoff retry.Backoff
		// bounds of the wait before retry n (1-based), given the previous wait
		lo, hi func(n int, prev time.Duration) time.Duration
	}{
		{"full jitter", retry.FullJitter(base, cap),
			func(int, time.Duration) time.Duration { return 0 },
			func(n int, _ time.Duration) time.Duration { return min(cap, base<<(n-1)) }},
		{"decorrelated jitter", retry.DecorrelatedJitter(base, cap),
			func(int, time.Duration) time.Duration { return base },
			func(_ int, prev time.Duration) time.Duration { return min(cap, 3*max(prev, base)) }},
		{"constant", retry.Constant(base),
			func(int, time.Duration) time.Duration { return base },
			func(int, time.Duration) time.Duration { return base }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 { // jitter: many runs
				synctest.Test(t, func(t *testing.T) {
					r := mustNew(t, retry.WithBackoff(tc.backoff), retry.WithMaxAttempts(8))
					starts, err := attempts(t, context.Background(), r, 100, errFlaky)
					if len(starts) != 8 || !errors.Is(err, errFlaky) {
						t.Fatalf("%d attempts, err %v", len(starts), err)
					}
					var prev time.Duration
					for n := 1; n < len(starts); n++ {
						wait := starts[n] - starts[n-1]
						if lo, hi := tc.lo(n, prev), tc.hi(n, prev); wait < lo || wait > hi {
							t.Fatalf("wait before retry %d = %v, want within [%v, %v]", n, wait, lo, hi)
						}
						prev = wait
					}
				})
			}
		})
	}
}

func TestDoSucceedsAfterRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Second)))
		starts, err := attempts(t, context.Background(), r, 2, errFlaky)
		if err != nil || len(starts) != 3 || starts[2] != 2*time.Second {
			t.Fatalf("starts %v, err %v", starts, err)
		}
	})
}

func TestFinalError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)))
		_, err := attempts(t, context.Background(), r, 10, errFlaky)
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || re.Err != errFlaky || re.Reason != retry.ErrAttemptsExhausted {
			t.Fatalf("err = %#v", err)
		}
		if err.Error() != "retry: 3 attempts: flaky" {
			t.Fatalf("message %q", err.Error())
		}
	})
}

func TestNeverPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(100*time.Millisecond)), retry.WithMaxAttempts(10))
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		start := time.Now()
		starts, err := attempts(t, ctx, r, 100, errFlaky)
		if len(starts) != 3 || !errors.Is(err, retry.ErrDeadline) || !errors.Is(err, errFlaky) {
			t.Fatalf("starts %v, err %v", starts, err)
		}
		if took := time.Since(start); took != 200*time.Millisecond {
			t.Fatalf("gave up after %v, want 200ms: at once when the next wait would pass the deadline", took)
		}
	})
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Second)), retry.WithMaxAttempts(10), retry.WithMaxElapsed(2500*time.Millisecond))
		starts, err := attempts(t, context.Background(), r, 100, errFlaky)
		if len(starts) != 3 || !errors.Is(err, retry.ErrDeadline) {
			t.Fatalf("starts %v, err %v", starts, err)
		}
	})
}

func TestCancelDuringSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Hour)))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		_, err := attempts(t, ctx, r, 100, errFlaky)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
			t.Fatalf("err = %v", err)
		}
		if took := time.Since(start); took != time.Second {
			t.Fatalf("returned after %v, want 1s", took)
		}
	})
}

type statusErr int

func (s statusErr) Error() string   { return fmt.Sprintf("status %d", int(s)) }
func (s statusErr) HTTPStatus() int { return int(s) }

func TestWhatIsRetried(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		opts     []retry.Option
		attempts int
		wait     time.Duration // between the first two attempts
		reason   error
	}{
		{name: "plain error", err: errFlaky, attempts: 3, wait: time.Millisecond, reason: retry.ErrAttemptsExhausted},
		{name: "permanent", err: retry.Permanent(errFlaky), attempts: 1},
		{name: "client error", err: statusErr(http.StatusForbidden), attempts: 1},
		{name: "server error", err: statusErr(http.StatusServiceUnavailable), attempts: 3, wait: time.Millisecond, reason: retry.ErrAttemptsExhausted},
		{name: "too many requests", err: statusErr(http.StatusTooManyRequests), attempts: 3, wait: time.Millisecond, reason: retry.ErrAttemptsExhausted},
		{name: "server hint honoured", err: retry.After(errFlaky, 3*time.Second), attempts: 3, wait: 3 * time.Second, reason: retry.ErrAttemptsExhausted},
		{name: "hint over the cap gives up", err: retry.After(errFlaky, time.Minute), attempts: 1, reason: retry.ErrHint},
		{name: "raised cap", err: retry.After(errFlaky, time.Minute), opts: []retry.Option{retry.WithMaxServerDelay(time.Hour)}, attempts: 3, wait: time.Minute, reason: retry.ErrAttemptsExhausted},
		{name: "negative hint means no retry", err: retry.After(errFlaky, -1), attempts: 1, reason: retry.ErrHint},
		{name: "custom predicate", err: errFlaky, opts: []retry.Option{retry.WithRetryIf(func(error) bool { return false })}, attempts: 1},
		{name: "breaker open sentinel", err: fmt.Errorf("%w: %w", errFlaky, breaker.ErrOpen), attempts: 1},
		{name: "breaker half-open full", err: fmt.Errorf("%w: %w", errFlaky, breaker.ErrTooManyRequests), attempts: 1},
		{name: "breaker open, waiting for half-open", err: fmt.Errorf("%w: %w", errFlaky, breaker.ErrOpen), opts: []retry.Option{retry.WithWaitForHalfOpen(true)}, attempts: 3, wait: time.Millisecond, reason: retry.ErrAttemptsExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustNew(t, append([]retry.Option{retry.WithBackoff(retry.Constant(time.Millisecond))}, tc.opts...)...)
				starts, err := attempts(t, context.Background(), r, 100, tc.err)
				if len(starts) != tc.attempts {
					t.Fatalf("%d attempts, want %d (err %v)", len(starts), tc.attempts, err)
				}
				if tc.attempts > 1 && starts[1] != tc.wait {
					t.Fatalf("waited %v, want %v", starts[1], tc.wait)
				}
				var re *retry.Error
				if !errors.As(err, &re) || re.Reason != tc.reason {
					t.Fatalf("err %#v, want reason %v", err, tc.reason)
				}
				if !errors.Is(err, errFlaky) && !errors.As(err, new(statusErr)) {
					t.Fatalf("err %v does not wrap the last attempt's error", err)
				}
				if tc.name == "permanent" && re.Err != errFlaky {
					t.Fatalf("Err = %#v, want the error Permanent wrapped", re.Err)
				}
			})
		})
	}
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)))
		n := 0
		v, err := retry.Call(context.Background(), r, func(context.Context) (string, error) {
			n++
			if n < 2 {
				return "partial", errFlaky
			}
			return "ok", nil
		})
		if v != "ok" || err != nil || n != 2 {
			t.Fatalf("Call = %q, %v after %d calls", v, err, n)
		}
		v, err = retry.Call(context.Background(), r, func(context.Context) (string, error) { return "partial", retry.Permanent(errFlaky) })
		if v != "" || !errors.Is(err, errFlaky) {
			t.Fatalf("failed Call = %q, %v; want the zero value", v, err)
		}
	})
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithAttemptTimeout(time.Second))
		n := 0
		err := r.Do(context.Background(), func(ctx context.Context) error {
			n++
			if n == 1 {
				<-ctx.Done() // the first attempt hangs until its own timeout
				return ctx.Err()
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Fatalf("err %v after %d attempts", err, n)
		}
	})
}

// TestBackoffHugeCap: a cap meant as "no cap" gives long waits, never a
// panic, however many retries came before.
func TestBackoffHugeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithBackoff(retry.FullJitter(100*time.Millisecond, math.MaxInt64)), retry.WithMaxAttempts(100))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		n := 0
		err := r.Do(ctx, func(context.Context) error {
			if n++; n < 60 {
				return retry.After(errFlaky, 0) // retried at once, no backoff
			}
			return errFlaky
		})
		if !errors.Is(err, errFlaky) || n < 60 {
			t.Fatalf("err %v after %d attempts", err, n)
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name, retrier string
		opt           retry.Option
		want          string // in the error
	}{
		{"empty name", "", nil, "empty name"},
		{"nil option", "t", nil, "option 0 is nil"},
		{"zero attempts", "t", retry.WithMaxAttempts(0), "WithMaxAttempts(0)"},
		{"negative elapsed", "t", retry.WithMaxElapsed(-1), "WithMaxElapsed"},
		{"negative timeout", "t", retry.WithAttemptTimeout(-1), "WithAttemptTimeout"},
		{"cap below base", "t", retry.WithBackoff(retry.FullJitter(time.Second, time.Millisecond)), "below its base"},
		{"zero base", "t", retry.WithBackoff(retry.FullJitter(0, time.Second)), "base must be positive"},
		{"negative constant", "t", retry.WithBackoff(retry.Constant(-1)), "must not be negative"},
		{"bad header", "t", retry.WithAttemptHeader("bad header"), "WithAttemptHeader"},
		{"nil predicate", "t", retry.WithRetryIf(nil), "WithRetryIf"},
		{"negative hedge", "t", retry.WithHedging(-1), "WithHedging"},
		{"negative server", "t", retry.WithMaxServerDelay(-1), "WithMaxServerDelay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []retry.Option
			if tc.name != "empty name" {
				opts = []retry.Option{tc.opt}
			}
			r, err := retry.New(tc.retrier, opts...)
			if err == nil || r != nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "retry: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if _, err := retry.NewBudget(1.5, 1); err == nil {
		t.Error("budget ratio 1.5 accepted")
	}
	if _, err := retry.NewBudget(0.2, -1); err == nil {
		t.Error("negative floor accepted")
	}
}

// TestBudget sends a sustained load that always fails: retries stay within
// ratio × requests + floor × window, and the rest fail with
// ErrBudgetExhausted.
func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, err := retry.NewBudget(0.2, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Two Retriers of one upstream share the budget.
		r1 := mustNew(t, retry.WithBudget(budget), retry.WithBackoff(retry.Constant(time.Millisecond)))
		r2 := mustNew(t, retry.WithBudget(budget), retry.WithBackoff(retry.Constant(time.Millisecond)))
		calls, exhausted := 0, 0
		const requests = 1000
		for i := range requests {
			r := r1
			if i%2 == 1 {
				r = r2
			}
			err := r.Do(context.Background(), func(context.Context) error { calls++; return errFlaky })
			if errors.Is(err, retry.ErrBudgetExhausted) {
				exhausted++
			}
		}
		retries := calls - requests
		// One fake millisecond per retry: the whole load fits in the
		// ten-second window.
		if max := int(0.2*requests + 1*10); retries > max || retries < max-5 {
			t.Fatalf("%d retries, want about (and at most) %d", retries, max)
		}
		if exhausted < requests/2 {
			t.Fatalf("only %d calls saw ErrBudgetExhausted", exhausted)
		}
	})
}

// TestBudgetAfterQuietSpell: requests counted during a healthy minute are
// credited to the last ten seconds at their average rate.
func TestBudgetAfterQuietSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := retry.NewBudget(0.5, 0)
		r := mustNew(t, retry.WithBudget(budget), retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxAttempts(1000))
		for range 600 { // 10 a second for a minute
			r.Do(context.Background(), func(context.Context) error { return nil })
			time.Sleep(100 * time.Millisecond)
		}
		// Now one call that keeps failing: the window holds 9 to 10 s of
		// requests at 10/s (it counts whole seconds, the current one just
		// begun), so 45 to 50 retries at ratio 0.5.
		calls := 0
		err := r.Do(context.Background(), func(context.Context) error { calls++; return errFlaky })
		if !errors.Is(err, retry.ErrBudgetExhausted) || calls-1 < 45 || calls-1 > 50 {
			t.Fatalf("%d retries (err %v), want 45 to 50", calls-1, err)
		}
	})
}
