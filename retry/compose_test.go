package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

// TestRetryAroundBreaker: retry outside, breaker inside. Once the breaker
// opens, its 30s until half-open is beyond the 10s hint cap, so the
// retries stop at once instead of calling a breaker that rejects anyway.
func TestRetryAroundBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br, err := breaker.New("upstream", breaker.WithConsecutiveFailures(2))
		if err != nil {
			t.Fatal(err)
		}
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxAttempts(5))
		calls := 0
		err = r.Do(context.Background(), func(ctx context.Context) error {
			return br.Do(ctx, func(context.Context) error { calls++; return errFlaky })
		})
		var re *retry.Error
		if !errors.As(err, &re) {
			t.Fatalf("err %v", err)
		}
		if calls != 2 || re.Attempts != 3 || !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, retry.ErrHint) {
			t.Fatalf("upstream called %d times, %d attempts, err %v; want 2 calls, then one rejection ending the retries", calls, re.Attempts, err)
		}
		if br.State() != breaker.StateOpen {
			t.Fatalf("breaker %v", br.State())
		}

		// With a cap above the open time the retry waits for half-open and
		// the probe succeeds.
		r2 := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxServerDelay(time.Minute))
		start := time.Now()
		err = r2.Do(context.Background(), func(ctx context.Context) error {
			return br.Do(ctx, func(context.Context) error { return nil })
		})
		// The breaker opened 1ms before r2 began: it waits out the rest.
		if err != nil || time.Since(start) != breaker.DefaultOpenDuration-time.Millisecond {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}
