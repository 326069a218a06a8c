package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// TestHTTPCoalescedServerError: requests that joined a load get its
// answer even when it is a 5xx, instead of each calling the failing
// handler; the answer is not stored.
func TestHTTPCoalescedServerError(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 20
				gate := make(chan struct{})
				o := newOrigin(status)
				slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-gate
					o.ServeHTTP(w, r)
				})
				h := newResponseCache(t).Middleware(slow)
				codes := make([]int, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { codes[i] = do(h, "GET", "/a").Code })
				}
				synctest.Wait()
				close(gate)
				wg.Wait()
				if o.n() != 1 {
					t.Fatalf("%d handler calls for %d concurrent requests to a failing handler, want 1", o.n(), n)
				}
				for i, c := range codes {
					if c != status {
						t.Fatalf("request %d got %d, want %d", i, c, status)
					}
				}
				do(h, "GET", "/a")
				if o.n() != 2 {
					t.Fatalf("the %d was stored", status)
				}
			})
		})
	}
}

// TestHTTPVaryMemoryBound: what the cache learns per URL from Vary
// counts against WithMaxBytes, so client-chosen URLs cannot grow the heap
// past the bound.
func TestHTTPVaryMemoryBound(t *testing.T) {
	const maxBytes = 2 << 20
	o := newOrigin(200, "Cache-Control", "max-age=600", "Vary", "Accept-Encoding")
	rc := newResponseCache(t, cache.WithMaxBytes(maxBytes))
	h := rc.Middleware(o)
	long := strings.Repeat("q", 32<<10)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 1500 {
		do(h, "GET", "/a?"+strconv.Itoa(i)+"="+long, "Accept-Encoding", "gzip")
	}
	after := heap()
	grown := after - min(before, after)
	t.Logf("%d responses stored; heap grew %d bytes", rc.Len(), grown)
	if grown > maxBytes*3/2 {
		t.Fatalf("heap grew %d bytes with WithMaxBytes(%d)", grown, maxBytes)
	}
	runtime.KeepAlive(rc)
}

// streamWriter is a ResponseWriter that reports its first body bytes.
type streamWriter struct {
	*httptest.ResponseRecorder
	once  sync.Once
	first chan struct{}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.first) })
	return w.ResponseRecorder.Write(p)
}

// TestHTTPBodyOverCapStreams: past WithMaxBodyBytes the recorder stops
// buffering and the client gets the body as the handler writes it: here
// the handler waits, mid-body, until the client has seen bytes.
func TestHTTPBodyOverCapStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 1 << 10
		w := &streamWriter{ResponseRecorder: httptest.NewRecorder(), first: make(chan struct{})}
		calls := 0
		h := newResponseCache(t, cache.WithMaxBodyBytes(limit)).Middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			calls++
			rw.Header().Set("Cache-Control", "max-age=60")
			rw.Header().Set("X-Handler", "1")
			rw.Write([]byte(strings.Repeat("a", limit)))
			rw.Write([]byte("b")) // over the cap
			if calls == 1 {
				<-w.first // deadlocks (and synctest fails) unless streamed
			}
			rw.Write([]byte(strings.Repeat("c", 10*limit)))
		}))
		h.ServeHTTP(w, httptest.NewRequest("GET", "/big", nil))
		if w.Code != 200 || w.Body.Len() != 11*limit+1 || w.Header().Get("X-Handler") != "1" {
			t.Fatalf("got %d, %d bytes, header %v", w.Code, w.Body.Len(), w.Header())
		}
		if _, ok := w.Header()["Age"]; ok {
			t.Fatal("a streamed response carries Age")
		}
		second := do(h, "GET", "/big")
		if calls != 2 || second.Body.Len() != 11*limit+1 {
			t.Fatalf("%d calls, second body %d bytes: an oversize body was stored", calls, second.Body.Len())
		}
	})
}

// TestHTTPInvalidationHook: the hook hears every invalidated URI, and
// InvalidateURI applies one from elsewhere without calling it.
func TestHTTPInvalidationHook(t *testing.T) {
	var heard []string
	rc := newResponseCache(t, cache.WithInvalidationHook(func(_ context.Context, host, uri string) {
		heard = append(heard, host+" "+uri)
	}))
	o := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			w.Header().Set("Location", "/items/2?x=1")
			w.WriteHeader(201)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.URL.Path)
	})
	h := rc.Middleware(o)
	do(h, "POST", "/items")
	if strings.Join(heard, ";") != "example.com /items;example.com /items/2?x=1" {
		t.Fatalf("heard %q", heard)
	}
	do(h, "GET", "/items/3")
	if rc.Len() != 1 {
		t.Fatalf("%d stored", rc.Len())
	}
	if err := rc.InvalidateURI("example.com", "items/3"); err == nil || rc.Len() != 1 {
		t.Fatalf("InvalidateURI of a URI without its leading /: %v, %d stored; want an error and nothing removed", err, rc.Len())
	}
	if err := rc.InvalidateURI("example.com", "/items/3"); err != nil {
		t.Fatal(err)
	}
	if rc.Len() != 0 || len(heard) != 2 {
		t.Fatalf("after InvalidateURI: %d stored, hook heard %q", rc.Len(), heard)
	}
}

func TestNewResponseCacheRejectsBadHTTPOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  cache.Option
		want string
	}{
		{"heuristic cap", cache.WithHeuristicFreshness(0), "cache: WithHeuristicFreshness"},
		{"unstored name", cache.WithUnstoredFields("bad name"), "cache: WithUnstoredFields"},
		{"targeted empty", cache.WithTargetedCacheControl(""), "cache: WithTargetedCacheControl"},
		{"targeted Cache-Control", cache.WithTargetedCacheControl("cache-control"), "cache: WithTargetedCacheControl"},
		{"nil hook", cache.WithInvalidationHook(nil), "cache: WithInvalidationHook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cache.NewResponseCache("x", tc.opt); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q...", err, tc.want)
			}
			if _, err := cache.New[string, int]("x", tc.opt); err == nil {
				t.Fatal("New accepted a ResponseCache option")
			}
		})
	}
}

// TestHTTPSetTTL: a handler's SetTTL is the lifetime of a response that
// states none; SetTTL(ctx, 0) keeps it out of the store even with a
// validator.
func TestHTTPSetTTL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ttl    time.Duration
		stored bool
	}{{"positive", time.Minute, true}, {"zero", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				h := newResponseCache(t).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls++
					cache.SetTTL(r.Context(), tc.ttl)
					w.Header().Set("ETag", `"e"`)
					io.WriteString(w, "x")
				}))
				do(h, "GET", "/a")
				time.Sleep(30 * time.Second)
				do(h, "GET", "/a")
				if stored := calls == 1; stored != tc.stored {
					t.Fatalf("%d handler calls", calls)
				}
			})
		})
	}
}

// readerFromRecorder is a ResponseWriter with its own ReadFrom, as
// net/http's (sendfile) is, counting the calls that reach it.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	readFroms int
}

func (w *readerFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.readFroms++
	return io.Copy(w.ResponseRecorder, r)
}

// TestHTTPPassThroughKeepsWriterInterfaces: a request the cache passes
// through (here a POST, which it invalidates for) reaches the handler
// with a writer whose ReadFrom and Flush reach the server's, so sendfile
// and flushing work behind the cache.
func TestHTTPPassThroughKeepsWriterInterfaces(t *testing.T) {
	rc := newResponseCache(t)
	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rf, ok := w.(io.ReaderFrom)
		if !ok {
			t.Error("the handler's writer has no ReadFrom")
			return
		}
		rf.ReadFrom(strings.NewReader("body"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the cache: %v", err)
		}
	}))
	w := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("POST", "/items", nil))
	if w.readFroms != 1 || w.Body.String() != "body" || !w.Flushed {
		t.Fatalf("ReadFrom calls %d, body %q, flushed %v; want 1, body, true", w.readFroms, w.Body, w.Flushed)
	}
}
