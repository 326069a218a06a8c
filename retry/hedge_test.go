package retry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/retry"
)

func TestHedgeWinsAndCancelsTheSlowAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(100*time.Millisecond))
		var calls atomic.Int32
		canceled := make(chan error, 1)
		start := time.Now()
		v, err := retry.Call(context.Background(), r, func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				select { // the slow first attempt
				case <-ctx.Done():
					canceled <- ctx.Err()
					return "", ctx.Err()
				case <-time.After(10 * time.Second):
					return "slow", nil
				}
			}
			return "fast", nil
		})
		if v != "fast" || err != nil {
			t.Fatalf("got %q, %v", v, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Fatalf("answered after %v, want at the 100ms hedge", took)
		}
		synctest.Wait()
		select {
		case err := <-canceled:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("slow attempt ended with %v", err)
			}
		default:
			t.Fatal("the slow attempt was not canceled")
		}
	})
}

func TestHedgeFastFirstAttemptNoHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(100*time.Millisecond))
		var calls atomic.Int32
		err := r.Do(context.Background(), func(ctx context.Context) error {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond)
			return nil
		})
		synctest.Wait()
		if err != nil || calls.Load() != 1 {
			t.Fatalf("err %v, %d calls; a fast attempt needs no hedge", err, calls.Load())
		}
	})
}

func TestHedgeAllFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(100*time.Millisecond), retry.WithBackoff(retry.Constant(time.Second)))
		var calls atomic.Int32
		err := r.Do(context.Background(), func(ctx context.Context) error {
			calls.Add(1)
			return errFlaky
		})
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || calls.Load() != 3 || !errors.Is(err, errFlaky) {
			t.Fatalf("err %v after %d calls", err, calls.Load())
		}
	})
}

func TestHedgeCountsAgainstBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget, _ := retry.NewBudget(0, 0) // no room at all
		r, err := retry.New("test", retry.WithBudget(budget), retry.WithHedging(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		err = r.Do(context.Background(), func(ctx context.Context) error {
			calls.Add(1)
			time.Sleep(time.Second)
			return nil
		})
		if err != nil || calls.Load() != 1 {
			t.Fatalf("err %v, %d calls; an empty budget allows no hedge", err, calls.Load())
		}
	})
}

func TestHedgeAtObservedP95(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(0))
		// 20 attempts taking 10ms..200ms: p95 is 190ms.
		for i := range 20 {
			r.Do(context.Background(), func(ctx context.Context) error {
				time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
				return nil
			})
		}
		var calls atomic.Int32
		start := time.Now()
		r.Do(context.Background(), func(ctx context.Context) error {
			if calls.Add(1) == 1 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if took := time.Since(start); took != 190*time.Millisecond {
			t.Fatalf("hedged after %v, want the observed p95 of 190ms", took)
		}
		synctest.Wait()
	})
}

// TestTransportHedging: the losing response's body is closed, the
// winner's stays readable.
func TestTransportHedging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var loserClosed atomic.Bool
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				time.Sleep(time.Second) // slow, ignores cancellation
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &closeFlag{Reader: strings.NewReader("slow"), closed: &loserClosed}}, nil
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("fast"))}, nil
		})
		r := mustNew(t, retry.WithHedging(50*time.Millisecond))
		resp, err := r.Transport(base).RoundTrip(httptest.NewRequest("GET", "http://upstream.test/", nil))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "fast" {
			t.Fatalf("body %q", body)
		}
		time.Sleep(2 * time.Second) // the slow attempt finishes
		synctest.Wait()             // and is released
		if !loserClosed.Load() {
			t.Fatal("the losing response was not closed")
		}
	})
}

type closeFlag struct {
	io.Reader
	closed *atomic.Bool
}

func (c *closeFlag) Close() error { c.closed.Store(true); return nil }

// doneCtx is a cancelable context the context package does not know, so
// every context derived from it watches it from a goroutine of its own
// until the derived context is canceled.
type doneCtx struct {
	context.Context
	done chan struct{}
}

func (c doneCtx) Done() <-chan struct{} { return c.done }

func (c doneCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestHedgeCancelsEveryAttemptContext: with an attempt timeout, no context
// of a hedged call outlives it (a leaked one would keep its goroutine, and
// a child in its parent's list, as long as the parent lives).
func TestHedgeCancelsEveryAttemptContext(t *testing.T) {
	before := goleak.IgnoreCurrent()
	parent := doneCtx{Context: context.Background(), done: make(chan struct{})}
	defer close(parent.done)
	r := mustNew(t, retry.WithHedging(time.Hour), retry.WithAttemptTimeout(time.Hour))
	if err := r.Do(parent, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

// TestHedgePermanentStops: a Permanent error ends the call at once, as
// without hedging, even while a slower attempt is still in flight.
func TestHedgePermanentStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(100*time.Millisecond))
		var calls atomic.Int32
		canceled := make(chan error, 1)
		start := time.Now()
		v, err := retry.Call(context.Background(), r, func(ctx context.Context) (string, error) {
			if calls.Add(1) == 1 {
				select { // the slow first attempt
				case <-ctx.Done():
					canceled <- ctx.Err()
					return "", ctx.Err()
				case <-time.After(10 * time.Second):
					return "slow", nil
				}
			}
			return "", retry.Permanent(errFlaky)
		})
		var re *retry.Error
		if v != "" || !errors.As(err, &re) || re.Err != errFlaky || re.Attempts != 2 {
			t.Fatalf("got %q, %#v", v, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Fatalf("returned after %v, want at once when the hedge failed for good (100ms)", took)
		}
		synctest.Wait()
		select {
		case err := <-canceled:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("slow attempt ended with %v", err)
			}
		default:
			t.Fatal("the slow attempt was not canceled")
		}
	})
}

// TestHedgeFailedHedgeVerdict: with hedging at 50ms and a slow first
// attempt, what the hedge fails with decides at once, as in gRPC's
// hedging design (A6): an error not worth retrying or a server hint
// saying "stop" or "wait too long" cancels the slow attempt and ends the
// call with that error; a hint within the cap delays the next hedge by
// it; a retryable error starts the next hedge at once.
func TestHedgeFailedHedgeVerdict(t *testing.T) {
	errNotFound := statusErr(http.StatusNotFound)
	tests := []struct {
		name      string
		hedgeErr  error
		wantErr   error         // in the returned error; nil: success
		wantTook  time.Duration // until Do returns
		wantThird time.Duration // when the third attempt started; 0: none
		wantWhy   error         // the *Error's Reason
	}{
		{"not found ends the call", errNotFound, errNotFound, 50 * time.Millisecond, 0, nil},
		{"permanent ends the call", retry.Permanent(errFlaky), errFlaky, 50 * time.Millisecond, 0, nil},
		{"pushback do not retry ends the call", retry.After(errFlaky, -1), errFlaky, 50 * time.Millisecond, 0, retry.ErrHint},
		{"pushback beyond the cap ends the call", retry.After(errFlaky, time.Minute), errFlaky, 50 * time.Millisecond, 0, retry.ErrHint},
		{"pushback delays the next hedge", retry.After(errFlaky, 5*time.Second), nil, 5050 * time.Millisecond, 5050 * time.Millisecond, nil},
		{"retryable error hedges again at once", errFlaky, nil, 50 * time.Millisecond, 50 * time.Millisecond, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := mustNew(t, retry.WithHedging(50*time.Millisecond))
				var calls atomic.Int32
				var third atomic.Int64
				canceled := make(chan error, 1)
				start := time.Now()
				v, err := retry.Call(context.Background(), r, func(ctx context.Context) (string, error) {
					switch calls.Add(1) {
					case 1: // slow, and fails in the end
						select {
						case <-ctx.Done():
							canceled <- ctx.Err()
							return "", ctx.Err()
						case <-time.After(time.Minute):
							return "", errors.New("slow attempt failed")
						}
					case 2:
						return "", tc.hedgeErr
					default:
						third.Store(int64(time.Since(start)))
						return "third", nil
					}
				})
				took := time.Since(start)
				synctest.Wait()
				if tc.wantErr == nil {
					if err != nil || v != "third" {
						t.Fatalf("got %q, %v; want the third attempt's answer", v, err)
					}
				} else {
					var re *retry.Error
					if !errors.As(err, &re) || !errors.Is(err, tc.wantErr) || re.Reason != tc.wantWhy || re.Attempts != 2 {
						t.Fatalf("got %q, %v (%#v); want the hedge's error after 2 attempts, reason %v", v, err, err, tc.wantWhy)
					}
					select {
					case <-canceled:
					default:
						t.Fatal("the slow attempt was not canceled")
					}
				}
				if took != tc.wantTook {
					t.Fatalf("returned after %v, want %v", took, tc.wantTook)
				}
				if got := time.Duration(third.Load()); got != tc.wantThird {
					t.Fatalf("third attempt at %v, want %v (0: none)", got, tc.wantThird)
				}
			})
		})
	}
}

// TestHedgeNoTimeLeft: once a failed hedge finds no time left for another
// attempt (WithMaxElapsed), no further hedge starts, and the call ends
// with the last attempt in flight.
func TestHedgeNoTimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustNew(t, retry.WithHedging(50*time.Millisecond), retry.WithMaxElapsed(80*time.Millisecond), retry.WithMaxAttempts(5))
		var calls atomic.Int32
		start := time.Now()
		err := r.Do(context.Background(), func(ctx context.Context) error {
			if calls.Add(1) == 1 {
				time.Sleep(time.Second) // slow, then fails
				return errFlaky
			}
			time.Sleep(100 * time.Millisecond) // the hedge fails at 150ms
			return errFlaky
		})
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.ErrDeadline || calls.Load() != 2 || time.Since(start) != time.Second {
			t.Fatalf("err %v after %d calls and %v; want ErrDeadline after 2 calls, when the slow one failed at 1s", err, calls.Load(), time.Since(start))
		}
	})
}
