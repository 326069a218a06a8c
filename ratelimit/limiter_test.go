package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// step is one call to AllowNAt at t0+at and the decision it must return.
type step struct {
	at   time.Duration
	n    int
	want ratelimit.Decision
}

func allowed(remaining int, reset time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Remaining: remaining, ResetAfter: reset}
}

func limited(remaining int, retry, reset time.Duration) ratelimit.Decision {
	return ratelimit.Decision{Remaining: remaining, RetryAfter: retry, ResetAfter: reset}
}

const ms = time.Millisecond

func TestRefill(t *testing.T) {
	tests := []struct {
		name  string
		limit rate.Limit
		burst int
		steps []step
	}{
		{
			name: "burst then limited", limit: 10, burst: 3,
			steps: []step{
				{0, 1, allowed(2, 100*ms)},
				{0, 1, allowed(1, 200*ms)},
				{0, 1, allowed(0, 300*ms)},
				{0, 1, limited(0, 100*ms, 300*ms)},
			},
		},
		{
			name: "steady rate", limit: 10, burst: 1,
			steps: []step{
				{0, 1, allowed(0, 100*ms)},
				{50 * ms, 1, limited(0, 50*ms, 50*ms)},
				{100 * ms, 1, allowed(0, 100*ms)},
				{200 * ms, 1, allowed(0, 100*ms)},
				{250 * ms, 1, limited(0, 50*ms, 50*ms)},
				{300 * ms, 1, allowed(0, 100*ms)},
			},
		},
		{
			name: "idle bucket refills only to the burst", limit: 10, burst: 2,
			steps: []step{
				{0, 2, allowed(0, 200*ms)},
				{time.Hour, 1, allowed(1, 100*ms)},
				{time.Hour, 1, allowed(0, 200*ms)},
			},
		},
		{
			name: "partial refill counts fractions", limit: 4, burst: 4,
			steps: []step{
				{0, 4, allowed(0, time.Second)},
				{375 * ms, 1, allowed(0, 875*ms)}, // 1.5 tokens back, 0.5 left
				{375 * ms, 1, limited(0, 125*ms, 875*ms)},
			},
		},
		{
			name: "AllowN takes all or nothing", limit: 10, burst: 5,
			steps: []step{
				{0, 3, allowed(2, 300*ms)},
				{0, 3, limited(2, 100*ms, 300*ms)},
				{0, 2, allowed(0, 500*ms)},
			},
		},
		{
			name: "AllowN larger than burst is never allowed", limit: 10, burst: 5,
			steps: []step{
				{0, 6, limited(5, rate.InfDuration, 0)},
				{time.Hour, 6, limited(5, rate.InfDuration, 0)},
				{time.Hour, 5, allowed(0, 500*ms)},
			},
		},
		{
			name: "slow rate gives long Retry-After", limit: rate.Every(time.Minute), burst: 2,
			steps: []step{
				{0, 2, allowed(0, 2*time.Minute)},
				{20 * time.Second, 1, limited(0, 40*time.Second, 100*time.Second)},
			},
		},
		{
			name: "zero tokens reads the bucket", limit: 10, burst: 2,
			steps: []step{
				{0, 1, allowed(1, 100*ms)},
				{0, 0, allowed(1, 100*ms)},
				{0, -3, allowed(1, 100*ms)},
			},
		},
		{
			name: "a clock going backwards refills nothing", limit: 10, burst: 1,
			steps: []step{
				{time.Second, 1, allowed(0, 100*ms)},
				{0, 1, limited(0, 100*ms, 100*ms)},
			},
		},
		{
			name: "infinite rate allows everything", limit: rate.Inf, burst: 3,
			steps: []step{
				{0, 100, allowed(3, 0)},
				{0, 100, allowed(3, 0)},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			single, err := ratelimit.New(tc.limit, tc.burst)
			if err != nil {
				t.Fatal(err)
			}
			keyed, err := ratelimit.NewKeyed(tc.limit, tc.burst)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				at := t0.Add(s.at)
				if got := single.AllowNAt(at, s.n); got != s.want {
					t.Errorf("step %d: Limiter.AllowNAt(t0+%v, %d) = %+v, want %+v", i, s.at, s.n, got, s.want)
				}
				if got := keyed.AllowNAt("k", at, s.n); got != s.want {
					t.Errorf("step %d: Keyed.AllowNAt(t0+%v, %d) = %+v, want %+v", i, s.at, s.n, got, s.want)
				}
			}
		})
	}
}

// TestRetryAfterIsExact checks, for awkward rates, that a limited caller
// who waits exactly RetryAfter is allowed, and one who comes a nanosecond
// earlier is not.
func TestRetryAfterIsExact(t *testing.T) {
	for _, limit := range []rate.Limit{1, 3, 7, 10, 0.3, 1.0 / 7, 1000, 1e6, 123.456, rate.Every(333 * time.Millisecond)} {
		for _, burst := range []int{1, 2, 5} {
			l, err := ratelimit.New(limit, burst)
			if err != nil {
				t.Fatal(err)
			}
			l.AllowNAt(t0, burst)
			at := t0.Add(time.Duration(float64(time.Second) / float64(limit) / 3)) // a third of a token back
			d := l.AllowAt(at)
			if d.Allowed || d.RetryAfter <= 0 {
				t.Fatalf("limit %v burst %d: %+v, want limited", limit, burst, d)
			}
			if early := l.AllowAt(at.Add(d.RetryAfter - 1)); early.Allowed {
				t.Errorf("limit %v burst %d: allowed 1ns before RetryAfter %v", limit, burst, d.RetryAfter)
			}
			if onTime := l.AllowAt(at.Add(d.RetryAfter)); !onTime.Allowed {
				t.Errorf("limit %v burst %d: limited after waiting RetryAfter %v: %+v", limit, burst, d.RetryAfter, onTime)
			}
		}
	}
}

// TestAllowZeroReadsTheBucket checks that AllowN with n < 1 is allowed, as
// documented, even while a Wait holds a reservation that leaves the
// bucket owing a token, and that it reads the bucket without taking from
// it.
func TestAllowZeroReadsTheBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, 10, 1)
		k, err := ratelimit.NewKeyed(10, 1)
		if err != nil {
			t.Fatal(err)
		}
		l.Allow()
		k.Allow("a")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go l.Wait(ctx)
		go k.Wait(ctx, "a")
		synctest.Wait() // both waits have reserved the next token
		want := allowed(0, 200*ms)
		for _, n := range []int{0, -1} {
			if d := l.AllowN(n); d != want {
				t.Errorf("Limiter.AllowN(%d) with a wait pending = %+v, want %+v", n, d, want)
			}
			if d := k.AllowN("a", n); d != want {
				t.Errorf("Keyed.AllowN(%d) with a wait pending = %+v, want %+v", n, d, want)
			}
		}
		cancel()
	})
}

func TestNewRejectsBadQuota(t *testing.T) {
	tests := []struct {
		name  string
		limit rate.Limit
		burst int
		opts  []ratelimit.Option
	}{
		{"zero limit", 0, 1, nil},
		{"negative limit", -1, 1, nil},
		{"zero burst", 1, 0, nil},
		{"negative max wait", 1, 1, []ratelimit.Option{ratelimit.WithMaxWait(-time.Second)}},
		{"keyed-only option", 1, 1, []ratelimit.Option{ratelimit.WithMaxKeys(10)}},
		{"middleware-only option", 1, 1, []ratelimit.Option{ratelimit.WithDryRun(true)}},
		{"policies-only option", 1, 1, []ratelimit.Option{ratelimit.WithHeaders(false)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if l, err := ratelimit.New(tc.limit, tc.burst, tc.opts...); err == nil {
				t.Fatalf("New(%v, %d) = %v, want an error", tc.limit, tc.burst, l)
			}
		})
	}
}

func TestWait(t *testing.T) {
	tests := []struct {
		name      string
		opts      []ratelimit.Option
		timeout   time.Duration // 0: no deadline
		wantErr   bool
		wantWait  time.Duration
		wantRetry time.Duration
	}{
		{name: "waits for the next token", wantWait: 100 * ms},
		{name: "within the deadline", timeout: 150 * ms, wantWait: 100 * ms},
		{name: "would overrun the deadline", timeout: 50 * ms, wantErr: true, wantRetry: 100 * ms},
		{name: "ending at the deadline is overrunning it", timeout: 100 * ms, wantErr: true, wantRetry: 100 * ms},
		{name: "within max wait", opts: []ratelimit.Option{ratelimit.WithMaxWait(100 * ms)}, wantWait: 100 * ms},
		{name: "over max wait", opts: []ratelimit.Option{ratelimit.WithMaxWait(99 * ms)}, wantErr: true, wantRetry: 100 * ms},
		{name: "fail fast", opts: []ratelimit.Option{ratelimit.WithMaxWait(0)}, wantErr: true, wantRetry: 100 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := ratelimit.New(10, 1, tc.opts...)
				if err != nil {
					t.Fatal(err)
				}
				ctx := t.Context()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				if err := l.Wait(ctx); err != nil {
					t.Fatalf("first Wait: %v", err)
				}
				start := time.Now()
				err = l.Wait(ctx)
				waited := time.Since(start)
				if !tc.wantErr {
					if err != nil || waited != tc.wantWait {
						t.Fatalf("Wait = %v after %v, want nil after %v", err, waited, tc.wantWait)
					}
					return
				}
				le, ok := errors.AsType[*ratelimit.LimitError](err)
				if !ok || !errors.Is(err, ratelimit.ErrLimited) || le.RetryAfter != tc.wantRetry {
					t.Fatalf("Wait = %v, want a *LimitError with RetryAfter %v", err, tc.wantRetry)
				}
				if waited != 0 {
					t.Fatalf("a Wait that cannot succeed waited %v", waited)
				}
				// The failed wait gave its reservation back: the token is due
				// when it was before.
				if d := l.AllowAt(time.Now().Add(100 * ms)); !d.Allowed {
					t.Fatalf("token not back after a failed Wait: %+v", d)
				}
			})
		})
	}
}

func TestWaitCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := ratelimit.New(1, 1)
		l.Allow()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- l.Wait(ctx) }()
		time.Sleep(300 * ms)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait on a done context = %v, want context.Canceled", err)
		}
	})
}

func TestWaitNLargerThanBurst(t *testing.T) {
	l, _ := ratelimit.New(10, 2)
	err := l.WaitN(t.Context(), 3)
	if err == nil || errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("WaitN(3) with burst 2 = %v, want a non-retryable error", err)
	}
}

func TestLimitError(t *testing.T) {
	tests := []struct {
		name string
		err  *ratelimit.LimitError
		want string
	}{
		{"bare", &ratelimit.LimitError{}, "ratelimit: limited"},
		{"policy and delay rounded up to seconds", &ratelimit.LimitError{Policy: "launch", RetryAfter: 1500 * ms}, `ratelimit: limited by policy "launch"; retry after 2s`},
		{"short delay in milliseconds", &ratelimit.LimitError{RetryAfter: 12300 * time.Microsecond}, `ratelimit: limited; retry after 13ms`},
		{"infinite delay", &ratelimit.LimitError{RetryAfter: rate.InfDuration}, `ratelimit: limited`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, ratelimit.ErrLimited) || tc.err.HTTPStatus() != 429 || tc.err.RetryDelay() != tc.err.RetryAfter {
				t.Errorf("%#v does not behave as a 429 with its retry delay", tc.err)
			}
		})
	}
}
