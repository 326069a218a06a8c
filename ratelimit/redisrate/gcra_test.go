package redisrate_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/redistest"
	"github.com/paved-go/paved/ratelimit"
)

// step is one call of a schedule: n tokens at offset from its start. At a
// tie the exact count of tokens is exactly n: float rounding may decide
// either way in either limiter (x/time/rate counts 1/3600 a second a
// hair short), so there the one that limits must say to retry within a
// microsecond, and the schedule ends.
type step struct {
	at  time.Duration
	n   int
	tie bool
}

// TestMatchesLocal feeds the same schedule to a Limiter (at the given
// times, not Redis's clock) and to a ratelimit.Keyed of the same quota,
// and compares every decision: Allowed and Remaining exactly, RetryAfter
// and ResetAfter within a microsecond (Redis's clock's resolution, to
// which RetryAfter is rounded up), but for ties (see step).
func TestMatchesLocal(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	every := func(ms int) []step {
		var out []step
		for i := range 40 {
			out = append(out, step{at: time.Duration(i*ms) * time.Millisecond, n: 1})
		}
		return out
	}
	tests := []struct {
		name  string
		limit rate.Limit
		burst int
		steps []step
	}{
		{"drain then refill", 10, 3, []step{{at: 0, n: 1}, {at: 0, n: 1}, {at: 0, n: 1}, {at: 0, n: 1}, {at: 50 * time.Millisecond, n: 1}, {at: 100 * time.Millisecond, n: 1}, {at: 100 * time.Millisecond, n: 1}, {at: 350 * time.Millisecond, n: 1}}},
		{"faster than the rate", 10, 5, every(70)},
		{"slower than the rate", 10, 5, every(130)},
		{"a third of a token a step", 3, 2, every(111)},
		{"thirds exactly", 3, 1, []step{{at: 0, n: 1}, {at: 333333 * time.Microsecond, n: 1}, {at: 333334 * time.Microsecond, n: 1}, {at: 666667 * time.Microsecond, n: 1}, {at: time.Second, n: 1}}},
		{"n tokens", 5, 10, []step{{at: 0, n: 4}, {at: 0, n: 4}, {at: 0, n: 4}, {at: 200 * time.Millisecond, n: 3}, {at: time.Second, n: 4}, {at: time.Second, n: 0}, {at: 1100 * time.Millisecond, n: 11}, {at: 3 * time.Second, n: 10}}},
		{"more than the burst", 1, 2, []step{{at: 0, n: 3}, {at: 0, n: 2}, {at: 0, n: 0}, {at: time.Second, n: 3}}},
		{"slow rate", rate.Every(time.Hour), 2, []step{{at: 0, n: 1}, {at: time.Minute, n: 1}, {at: time.Minute, n: 1}, {at: 31 * time.Minute, n: 1}, {at: 59 * time.Minute, n: 1}, {at: 60 * time.Minute, n: 1, tie: true}}},
		{"fast rate", 1000, 100, func() []step {
			var out []step
			for i := range 300 {
				out = append(out, step{at: time.Duration(i*700) * time.Microsecond, n: 1 + i%3})
			}
			return out
		}()},
		{"odd rate", 7.3, 4, every(97)},
	}
	base := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shared := limiter(t, "gcra", c, tc.limit, tc.burst)
			local, err := ratelimit.NewKeyed(tc.limit, tc.burst)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				at := base.Add(st.at)
				got := shared.AllowNAt(context.Background(), tc.name, at, st.n)
				want := local.AllowNAt(tc.name, at, st.n)
				if st.tie {
					for _, d := range []ratelimit.Decision{got, want} {
						if !d.Allowed && d.RetryAfter > time.Microsecond {
							t.Fatalf("step %d, a tie: redis %+v, local %+v; a limited one must retry within 1µs", i, got, want)
						}
					}
					return
				}
				if got.Allowed != want.Allowed || got.Remaining != want.Remaining ||
					!within(got.RetryAfter, want.RetryAfter, time.Microsecond) ||
					!within(got.ResetAfter, want.ResetAfter, time.Microsecond) {
					t.Fatalf("step %d (%v, n=%d): redis %+v, local %+v", i, st.at, st.n, got, want)
				}
				if !got.Allowed && got.RetryAfter%time.Microsecond != 0 && got.RetryAfter != rate.InfDuration {
					t.Fatalf("step %d: RetryAfter %v is not whole microseconds", i, got.RetryAfter)
				}
			}
		})
	}
}

func within(a, b, tol time.Duration) bool {
	if a == rate.InfDuration || b == rate.InfDuration {
		return a == b
	}
	d := a - b
	return -tol <= d && d <= tol
}

// TestRetryAfterIsExact asks again exactly RetryAfter after a limited
// decision, which succeeds, and a microsecond earlier, which does not.
func TestRetryAfterIsExact(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	tests := []struct {
		name  string
		limit rate.Limit
		burst int
		n     int
	}{
		{"one token", 10, 1, 1},
		{"thirds", 3, 2, 2},
		{"odd rate", 7.3, 5, 3},
		{"slow", rate.Every(time.Hour), 1, 1},
		{"fast", 100_000, 10, 10},
	}
	base := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := limiter(t, "retry", c, tc.limit, tc.burst)
			ctx := context.Background()
			for i := 0; ; i++ {
				if d := l.AllowNAt(ctx, tc.name, base, tc.n); !d.Allowed {
					break
				} else if i > tc.burst {
					t.Fatal("never limited")
				}
			}
			d := l.AllowNAt(ctx, tc.name, base, tc.n)
			if d.Allowed || d.RetryAfter <= 0 {
				t.Fatalf("decision %+v, want limited with a RetryAfter", d)
			}
			if early := l.AllowNAt(ctx, tc.name, base.Add(d.RetryAfter-time.Microsecond), tc.n); early.Allowed {
				t.Fatalf("allowed a microsecond before RetryAfter %v", d.RetryAfter)
			}
			if on := l.AllowNAt(ctx, tc.name, base.Add(d.RetryAfter), tc.n); !on.Allowed {
				t.Fatalf("limited at RetryAfter %v: %+v", d.RetryAfter, on)
			}
		})
	}
}
