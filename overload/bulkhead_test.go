package overload_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/overload"
)

func newBulkhead(t *testing.T, n int, opts ...overload.Option) *overload.Bulkhead {
	t.Helper()
	b, err := overload.NewBulkhead("test", n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBulkheadExactCapUnder1000Goroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 10, 1000
		b := newBulkhead(t, limit, overload.WithQueue(callers))
		var cur, peak atomic.Int64
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				err := b.Do(context.Background(), func(context.Context) error {
					n := cur.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(time.Millisecond)
					cur.Add(-1)
					return nil
				})
				if err == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if got := peak.Load(); got != limit {
			t.Errorf("peak concurrency = %d, want exactly %d", got, limit)
		}
		if got := ok.Load(); got != callers {
			t.Errorf("%d calls succeeded, want %d", got, callers)
		}
		if b.InFlight() != 0 || b.Queued() != 0 {
			t.Errorf("after the run: in flight %d, queued %d, want 0, 0", b.InFlight(), b.Queued())
		}
	})
}

func TestBulkheadShedsWithoutQueue(t *testing.T) {
	b := newBulkhead(t, 2)
	r1, err1 := b.Acquire(context.Background())
	r2, err2 := b.Acquire(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatalf("Acquire under the cap: %v, %v", err1, err2)
	}
	_, err := b.Acquire(context.Background())
	var se *overload.ShedError
	if !errors.Is(err, overload.ErrShed) || !errors.As(err, &se) {
		t.Fatalf("Acquire over the cap = %v, want a *ShedError", err)
	}
	if se.Name != "test" || se.RetryAfter != overload.DefaultRetryAfter || se.Class != overload.Default {
		t.Errorf("ShedError = %+v", *se)
	}
	r1()
	r3, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire after a release: %v", err)
	}
	r2()
	r3()
	if b.InFlight() != 0 {
		t.Errorf("InFlight = %d, want 0", b.InFlight())
	}
}

func TestBulkheadQueueBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBulkhead(t, 1, overload.WithQueue(2))
		release, _ := b.Acquire(context.Background())
		results := make(chan error, 2)
		for range 2 {
			go func() {
				r, err := b.Acquire(context.Background())
				if err == nil {
					r()
				}
				results <- err
			}()
		}
		synctest.Wait()
		if b.Queued() != 2 {
			t.Fatalf("Queued = %d, want 2", b.Queued())
		}
		if _, err := b.Acquire(context.Background()); !errors.Is(err, overload.ErrShed) {
			t.Fatalf("Acquire with a full queue = %v, want ErrShed", err)
		}
		release()
		for range 2 {
			if err := <-results; err != nil {
				t.Errorf("queued Acquire = %v, want nil", err)
			}
		}
	})
}

func TestBulkheadMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBulkhead(t, 1, overload.WithQueue(1), overload.WithMaxWait(50*time.Millisecond))
		release, _ := b.Acquire(context.Background())
		defer release()
		start := time.Now()
		_, err := b.Acquire(context.Background())
		if !errors.Is(err, overload.ErrShed) {
			t.Fatalf("Acquire past the max wait = %v, want ErrShed", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("waited %v, want 50ms", d)
		}
		if b.Queued() != 0 {
			t.Errorf("Queued = %d, want 0", b.Queued())
		}
	})
}

func TestBulkheadCancelWhileQueuedFreesTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBulkhead(t, 1, overload.WithQueue(1))
		release, _ := b.Acquire(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := b.Acquire(ctx)
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled Acquire = %v, want context.Canceled", err)
		}
		if b.Queued() != 0 {
			t.Fatalf("Queued after cancel = %d, want 0", b.Queued())
		}
		// The queue place is free again, and the next waiter gets the slot.
		got := make(chan error, 1)
		go func() {
			r, err := b.Acquire(context.Background())
			if err == nil {
				r()
			}
			got <- err
		}()
		synctest.Wait()
		release()
		if err := <-got; err != nil {
			t.Fatalf("Acquire after the cancel = %v", err)
		}
		if b.InFlight() != 0 {
			t.Errorf("InFlight = %d, want 0", b.InFlight())
		}
	})
}

func TestBulkheadDryRunAdmitsEverything(t *testing.T) {
	b := newBulkhead(t, 1, overload.WithDryRun(true))
	var rels []func()
	for range 3 {
		r, err := b.Acquire(context.Background())
		if err != nil {
			t.Fatalf("dry-run Acquire = %v", err)
		}
		rels = append(rels, r)
	}
	if b.InFlight() != 3 {
		t.Errorf("InFlight = %d, want 3", b.InFlight())
	}
	for _, r := range rels {
		r()
	}
}

func TestBulkheadMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBulkhead(t, 1, overload.WithRetryAfter(3*time.Second),
			overload.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
		entered, unblock := make(chan struct{}), make(chan struct{})
		h := b.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-unblock
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
		<-entered
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status = %d, want 503", rec.Code)
		}
		if got := rec.Header().Get("Retry-After"); got != "3" {
			t.Errorf("Retry-After = %q, want 3", got)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("Content-Type = %q", ct)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code != http.StatusNoContent {
			t.Errorf("filtered request status = %d, want 204", rec.Code)
		}
		close(unblock)
		synctest.Wait()
	})
}

func TestNewBulkheadErrors(t *testing.T) {
	tests := []struct {
		name  string
		bname string
		n     int
		opts  []overload.Option
		want  string
	}{
		{"empty name", "", 1, nil, "empty name"},
		{"zero cap", "b", 0, nil, "at least 1"},
		{"nil option", "b", 1, []overload.Option{nil}, "option 0 to NewBulkhead is nil"},
		{"negative queue", "b", 1, []overload.Option{overload.WithQueue(-1)}, "WithQueue"},
		{"negative wait", "b", 1, []overload.Option{overload.WithMaxWait(-time.Second)}, "WithMaxWait"},
		{"zero retry after", "b", 1, []overload.Option{overload.WithRetryAfter(0)}, "WithRetryAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := overload.NewBulkhead(tt.bname, tt.n, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "overload: ") {
				t.Errorf("NewBulkhead error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
