package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/idempotency"
)

// gated is a handler that blocks each run until release is closed.
type gated struct {
	runs    atomic.Int64
	release chan struct{}
	status  int
}

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.runs.Add(1)
	<-g.release
	status := g.status
	if status == 0 {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("done"))
}

func post(h http.Handler, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/instances", stringsReader(body))
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestConcurrentOneKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait time.Duration
	}{
		{name: "no wait: the rest replay or get 409"},
		{name: "wait: the rest replay", wait: time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g, err := idempotency.New("test", idempotency.WithWait(tc.wait))
				if err != nil {
					t.Fatal(err)
				}
				h := &gated{release: make(chan struct{})}
				mw := g.Middleware(h)
				const n = 100
				codes := make([]int, n)
				replays := make([]bool, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						w := post(mw, `"one"`, "body")
						codes[i], replays[i] = w.Code, w.Header().Get("Idempotent-Replayed") == "true"
					})
				}
				synctest.Wait() // every request is in the handler, waiting, or answered
				close(h.release)
				wg.Wait()
				if runs := h.runs.Load(); runs != 1 {
					t.Fatalf("handler ran %d times, want 1", runs)
				}
				var first, replayed, conflicts int
				for i := range n {
					switch {
					case codes[i] == 201 && !replays[i]:
						first++
					case codes[i] == 201 && replays[i]:
						replayed++
					case codes[i] == 409:
						conflicts++
					default:
						t.Fatalf("response %d: status %d", i, codes[i])
					}
				}
				if first != 1 || replayed+conflicts != n-1 || tc.wait > 0 && replayed != n-1 {
					t.Fatalf("first %d, replayed %d, conflicts %d", first, replayed, conflicts)
				}
			})
		})
	}
}

func TestInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := idempotency.New("test", idempotency.WithDocsURL("https://docs.example.com/idem"))
		h := &gated{release: make(chan struct{})}
		mw := g.Middleware(h)
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- post(mw, `"k"`, "a") }()
		synctest.Wait()
		// Section 2.7: a request while the first is outstanding is 409.
		w := post(mw, `"k"`, "a")
		if w.Code != http.StatusConflict || !contains(w.Body.String(), `"title":"A request is outstanding for this Idempotency-Key"`) {
			t.Fatalf("in progress: %d %s", w.Code, w.Body)
		}
		if ra := w.Header().Get("Retry-After"); ra != "1" {
			t.Fatalf("in progress: Retry-After %q, want 1", ra)
		}
		// Payload validation comes before the conflict: another payload
		// is 422 even while the first runs.
		if w := post(mw, `"k"`, "b"); w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("another payload in progress: %d %s", w.Code, w.Body)
		}
		close(h.release)
		if w := <-done; w.Code != http.StatusCreated {
			t.Fatalf("first: %d", w.Code)
		}
	})
}

func TestWait(t *testing.T) {
	t.Run("replays once the first finishes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, _ := idempotency.New("test", idempotency.WithWait(10*time.Second))
			h := &gated{release: make(chan struct{})}
			mw := g.Middleware(h)
			go post(mw, `"k"`, "a")
			synctest.Wait()
			go func() { time.Sleep(3 * time.Second); close(h.release) }()
			start := time.Now()
			w := post(mw, `"k"`, "a")
			if w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "true" || h.runs.Load() != 1 {
				t.Fatalf("waiter: %d %v, runs %d", w.Code, w.Header(), h.runs.Load())
			}
			if d := time.Since(start); d < 3*time.Second || d > 3200*time.Millisecond {
				t.Fatalf("waited %v, want about 3s", d)
			}
		})
	})
	t.Run("gives up with 409", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, _ := idempotency.New("test", idempotency.WithWait(2*time.Second))
			h := &gated{release: make(chan struct{})}
			mw := g.Middleware(h)
			go post(mw, `"k"`, "a")
			synctest.Wait()
			start := time.Now()
			if w := post(mw, `"k"`, "a"); w.Code != http.StatusConflict {
				t.Fatalf("waiter: %d", w.Code)
			}
			if d := time.Since(start); d != 2*time.Second {
				t.Fatalf("waited %v, want 2s", d)
			}
			close(h.release)
			synctest.Wait()
		})
	})
	t.Run("runs when the first released the key", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, _ := idempotency.New("test", idempotency.WithWait(10*time.Second))
			h := &gated{release: make(chan struct{}), status: http.StatusServiceUnavailable}
			mw := g.Middleware(h)
			go post(mw, `"k"`, "a")
			synctest.Wait()
			go func() { time.Sleep(time.Second); close(h.release) }()
			if w := post(mw, `"k"`, "a"); w.Code != http.StatusServiceUnavailable || h.runs.Load() != 2 {
				t.Fatalf("waiter: %d, runs %d; want its own run", w.Code, h.runs.Load())
			}
		})
	})
	// Payload validation after a wait: the record the waiter finds when
	// it looks again (another request's, with another payload, claimed
	// after the first released the key) is checked before anything is
	// served.
	t.Run("validates the record found after the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g, _ := idempotency.New("test", idempotency.WithWait(time.Minute))
			var calls atomic.Int64
			first, third := make(chan struct{}), make(chan struct{})
			mw := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					<-first
					w.WriteHeader(http.StatusServiceUnavailable) // released
					return
				}
				<-third
				w.WriteHeader(http.StatusCreated)
			}))
			go post(mw, `"k"`, "a")
			synctest.Wait()
			waiter := make(chan int)
			go func() { waiter <- post(mw, `"k"`, "a").Code }()
			synctest.Wait() // the waiter sleeps between looks
			close(first)
			synctest.Wait()
			go post(mw, `"k"`, "b") // claims the key with another payload
			synctest.Wait()
			if code := <-waiter; code != http.StatusUnprocessableEntity {
				t.Fatalf("waiter: %d, want 422", code)
			}
			close(third)
			synctest.Wait()
		})
	})
}

// An in-progress record whose holder died (never completed nor released)
// blocks its key only for the lock timeout, not the TTL.
func TestLockTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, _ := idempotency.NewMemoryStore()
		g, _ := idempotency.New("test", idempotency.WithStore(store), idempotency.WithLockTimeout(30*time.Second))
		var l launch
		mw := mux(g, &l)
		// The crashed holder: its record claimed, never finished.
		key := g.StoreKey(idempotency.Call{Scope: "client:192.0.2.1", Method: "POST", Route: "POST /instances", Key: "k"})
		if rec, err := store.Begin(context.Background(), key, &idempotency.Record{Token: "dead", Fingerprint: "?"}, 30*time.Second); rec != nil || err != nil {
			t.Fatal(rec, err)
		}
		// (Its fingerprint is not this request's, so the answer is 422.)
		if w := post(mw, `"k"`, "a"); w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("while held: %d", w.Code)
		}
		time.Sleep(30 * time.Second)
		if w := post(mw, `"k"`, "a"); w.Code != http.StatusCreated || l.runs.Load() != 1 {
			t.Fatalf("after the lock timeout: %d, runs %d", w.Code, l.runs.Load())
		}
		// A completed response lives for the TTL.
		time.Sleep(23 * time.Hour)
		if w := post(mw, `"k"`, "a"); w.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("within the TTL: %d, not replayed", w.Code)
		}
		time.Sleep(time.Hour)
		if w := post(mw, `"k"`, "a"); w.Code != http.StatusCreated || l.runs.Load() != 2 {
			t.Fatalf("after the TTL: %d, runs %d", w.Code, l.runs.Load())
		}
	})
}

// failing is a Store whose methods fail from the call numbered failFrom
// (counting every call, from 1).
type failing struct {
	idempotency.Store
	calls    atomic.Int64
	failFrom int64
}

var errDown = errors.New("connection refused")

func (f *failing) fail() bool { return f.calls.Add(1) >= f.failFrom }

func (f *failing) Begin(ctx context.Context, key string, rec *idempotency.Record, ttl time.Duration) (*idempotency.Record, error) {
	if f.fail() {
		return nil, errDown
	}
	return f.Store.Begin(ctx, key, rec, ttl)
}

func (f *failing) Complete(ctx context.Context, key string, rec *idempotency.Record, ttl time.Duration) error {
	if f.fail() {
		return errDown
	}
	return f.Store.Complete(ctx, key, rec, ttl)
}

func (f *failing) Get(ctx context.Context, key string) (*idempotency.Record, error) {
	if f.fail() {
		return nil, errDown
	}
	return f.Store.Get(ctx, key)
}

func TestStoreError(t *testing.T) {
	mem, _ := idempotency.NewMemoryStore()
	quiet := idempotency.WithLogger(slog.New(slog.DiscardHandler))
	t.Run("fails closed with 503", func(t *testing.T) {
		var handled error
		g, _ := idempotency.New("test", quiet, idempotency.WithStore(&failing{Store: mem, failFrom: 1}))
		var l launch
		w := post(g.Middleware(&l), `"k"`, "a")
		if w.Code != http.StatusServiceUnavailable || l.runs.Load() != 0 || !contains(w.Body.String(), "idempotency: store unavailable") || contains(w.Body.String(), "refused") {
			t.Fatalf("%d %s, runs %d", w.Code, w.Body, l.runs.Load())
		}
		g, _ = idempotency.New("test", quiet, idempotency.WithStore(&failing{Store: mem, failFrom: 1}),
			idempotency.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { handled = err }))
		post(g.Middleware(&l), `"k"`, "a")
		if !errors.Is(handled, idempotency.ErrUnavailable) || !errors.Is(handled, errDown) {
			t.Fatalf("error %v, want ErrUnavailable wrapping the store's", handled)
		}
	})
	t.Run("fail open runs the handler", func(t *testing.T) {
		g, _ := idempotency.New("test", quiet, idempotency.WithStore(&failing{Store: mem, failFrom: 1}), idempotency.WithFailOpen(true))
		var l launch
		if w := post(g.Middleware(&l), `"k"`, "a"); w.Code != http.StatusCreated || l.runs.Load() != 1 {
			t.Fatalf("%d, runs %d", w.Code, l.runs.Load())
		}
	})
	t.Run("store dies mid-request: the response is still sent", func(t *testing.T) {
		g, _ := idempotency.New("test", quiet, idempotency.WithStore(&failing{Store: mem, failFrom: 2}))
		var l launch
		if w := post(g.Middleware(&l), `"mid"`, "a"); w.Code != http.StatusCreated || l.runs.Load() != 1 {
			t.Fatalf("%d, runs %d", w.Code, l.runs.Load())
		}
	})
}
