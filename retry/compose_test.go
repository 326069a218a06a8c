package retry_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/retry"
)

// openTime is below the retrier's default 10s cap on server delays: the
// case where waiting for half-open used to hold every call of an outage.
const openTime = 5 * time.Second

func newBreaker(t *testing.T) *breaker.Breaker {
	t.Helper()
	br, err := breaker.New("upstream", breaker.WithConsecutiveFailures(2), breaker.WithOpenDuration(openTime),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return br
}

// TestRetryAroundBreakerDo: retry outside, breaker inside, through Do.
// Once the breaker opens, its rejection ends the retries at once, and the
// caller gets the breaker's error, which answers 503 with Retry-After.
func TestRetryAroundBreakerDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBreaker(t)
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxAttempts(5))
		calls := 0
		failing := func(ctx context.Context) error {
			return br.Do(ctx, func(context.Context) error { calls++; return errFlaky })
		}
		start := time.Now()
		err := r.Do(context.Background(), failing)
		var re *retry.Error
		if !errors.As(err, &re) {
			t.Fatalf("err %v", err)
		}
		if calls != 2 || re.Attempts != 3 || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("upstream called %d times, %d attempts, err %v; want 2 calls, then one rejection ending the retries", calls, re.Attempts, err)
		}
		if took := time.Since(start); took != 2*time.Millisecond {
			t.Fatalf("took %v, want the two 1ms backoffs and no wait for half-open", took)
		}
		assertAnswers503(t, err, openTime-time.Millisecond)

		// Every call during the outage ends at once, after one attempt.
		start = time.Now()
		err = r.Do(context.Background(), failing)
		if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, breaker.ErrOpen) || time.Since(start) != 0 || calls != 2 {
			t.Fatalf("during the outage: err %v after %v, %d upstream calls", err, time.Since(start), calls)
		}
	})
}

// TestRetryAroundBreakerTransport: the same through Transport, with the
// breaker's Transport inside retry's.
func TestRetryAroundBreakerTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br := newBreaker(t)
		var calls atomic.Int32
		base := roundTripFunc(func(*http.Request) (*http.Response, error) {
			calls.Add(1)
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("down"))}, nil
		})
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxAttempts(5))
		client := &http.Client{Transport: r.Transport(br.Transport(base))}
		start := time.Now()
		resp, err := client.Get("http://upstream.test/")
		if resp != nil {
			resp.Body.Close()
		}
		if !errors.Is(err, breaker.ErrOpen) || calls.Load() != 2 {
			t.Fatalf("resp %v, err %v after %d upstream calls; want the breaker's error after 2", resp, err, calls.Load())
		}
		if took := time.Since(start); took != 2*time.Millisecond {
			t.Fatalf("took %v, want the two 1ms backoffs and no wait for half-open", took)
		}
		assertAnswers503(t, err, openTime-time.Millisecond)
	})
}

// TestRetryWaitsForHalfOpen: WithWaitForHalfOpen(true) waits for the
// breaker's probe when the wait is within the server delay cap, through
// Do and Transport, and still gives up at once when it is not.
func TestRetryWaitsForHalfOpen(t *testing.T) {
	tests := []struct {
		name     string
		maxDelay time.Duration
		wantErr  bool
	}{
		{"open time within the cap", 10 * time.Second, false},
		{"open time beyond the cap", time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/Do", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				br := newBreaker(t)
				for range 2 {
					br.Do(context.Background(), func(context.Context) error { return errFlaky })
				}
				r := mustNew(t, retry.WithWaitForHalfOpen(true), retry.WithMaxServerDelay(tc.maxDelay))
				start := time.Now()
				err := r.Do(context.Background(), func(ctx context.Context) error {
					return br.Do(ctx, func(context.Context) error { return nil })
				})
				checkHalfOpenWait(t, err, time.Since(start), tc.wantErr)
			})
		})
		t.Run(tc.name+"/Transport", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				br := newBreaker(t)
				var calls atomic.Int32
				base := roundTripFunc(func(*http.Request) (*http.Response, error) {
					status := http.StatusOK
					if calls.Add(1) <= 2 {
						status = http.StatusInternalServerError // opens the breaker, not retried
					}
					return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody}, nil
				})
				tr := br.Transport(base)
				for range 2 {
					resp, _ := tr.RoundTrip(httptest.NewRequest("GET", "http://upstream.test/", nil))
					resp.Body.Close()
				}
				r := mustNew(t, retry.WithWaitForHalfOpen(true), retry.WithMaxServerDelay(tc.maxDelay))
				start := time.Now()
				resp, err := r.Transport(tr).RoundTrip(httptest.NewRequest("GET", "http://upstream.test/", nil))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d", resp.StatusCode)
					}
				}
				checkHalfOpenWait(t, err, time.Since(start), tc.wantErr)
			})
		})
	}
}

func checkHalfOpenWait(t *testing.T, err error, took time.Duration, wantErr bool) {
	t.Helper()
	switch {
	case wantErr && (!errors.Is(err, breaker.ErrOpen) || !errors.Is(err, retry.ErrHint) || took != 0):
		t.Fatalf("err %v after %v; want the breaker's error at once, the wait being beyond the cap", err, took)
	case !wantErr && (err != nil || took != openTime):
		t.Fatalf("err %v after %v; want the half-open probe's success after %v", err, took, openTime)
	}
}

// assertAnswers503 checks what a server answering err tells its client.
func assertAnswers503(t *testing.T, err error, retryAfter time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), err)
	if want := httpx.RetryAfterSeconds(retryAfter); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != want {
		t.Fatalf("answered %d with Retry-After %q, want 503 with %q", rec.Code, rec.Header().Get("Retry-After"), want)
	}
}
