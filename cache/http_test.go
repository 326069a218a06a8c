package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// origin is a handler that answers with a configured status, headers and
// body, the body ending in the call's number so a test can tell which
// call produced what it got.
type origin struct {
	mu     sync.Mutex
	calls  int
	status int
	header http.Header
	body   string
	seen   []*http.Request
}

func newOrigin(status int, kv ...string) *origin {
	o := &origin{status: status, header: http.Header{}, body: "payload"}
	for i := 0; i < len(kv); i += 2 {
		o.header.Add(kv[i], kv[i+1])
	}
	return o
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.calls++
	n := o.calls
	o.seen = append(o.seen, r)
	status, body := o.status, o.body
	for k, v := range o.header {
		w.Header()[k] = append([]string(nil), v...)
	}
	o.mu.Unlock()
	w.WriteHeader(status)
	io.WriteString(w, body+"#"+strconv.Itoa(n))
}

func (o *origin) n() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

func newResponseCache(t *testing.T, opts ...cache.Option) *cache.ResponseCache {
	t.Helper()
	rc, err := cache.NewResponseCache("test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func do(h http.Handler, method, target string, kv ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHTTPVary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=60", "Vary", "accept-language")
		h := newResponseCache(t).Middleware(o)
		for _, step := range []struct {
			lang, body string
		}{
			{"en", "payload#1"}, // first: stored under its language
			{"fr", "payload#2"}, // other language: a miss
			{"en", "payload#1"},
			{"fr", "payload#2"},
			{"", "payload#3"}, // no Accept-Language is a value of its own
			{"", "payload#3"},
		} {
			var kv []string
			if step.lang != "" {
				kv = []string{"Accept-Language", step.lang}
			}
			if got := do(h, "GET", "/a", kv...).Body.String(); got != step.body {
				t.Fatalf("Accept-Language %q got %q, want %q", step.lang, got, step.body)
			}
		}
	})
}

func TestHTTPStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=10, stale-while-revalidate=30")
		h := newResponseCache(t, cache.WithJitter(0)).Middleware(o)
		do(h, "GET", "/a")
		time.Sleep(15 * time.Second)
		w := do(h, "GET", "/a")
		if w.Body.String() != "payload#1" || w.Header().Get("Age") != "15" {
			t.Fatalf("stale response %q Age %q, want the first one aged 15", w.Body.String(), w.Header().Get("Age"))
		}
		do(h, "GET", "/a")
		synctest.Wait() // the background refresh is done
		if o.n() != 2 {
			t.Fatalf("%d handler calls, want 1 + 1 refresh", o.n())
		}
		if w := do(h, "GET", "/a"); w.Body.String() != "payload#2" || w.Header().Get("Age") != "0" {
			t.Fatalf("after the refresh %q Age %q", w.Body.String(), w.Header().Get("Age"))
		}
	})
}

func TestHTTPStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=10")
		rc := newResponseCache(t, cache.WithJitter(0), cache.WithStaleIfError(time.Minute))
		h := rc.Middleware(o)
		do(h, "GET", "/a")
		o.mu.Lock()
		o.status, o.header = 503, http.Header{"Cache-Control": {"no-store"}}
		o.mu.Unlock()
		time.Sleep(10 * time.Second)
		if w := do(h, "GET", "/a"); w.Code != 200 || w.Body.String() != "payload#1" {
			t.Fatalf("on a 503 got %d %q, want the stale response", w.Code, w.Body.String())
		}
		time.Sleep(time.Minute)
		if w := do(h, "GET", "/a"); w.Code != 503 {
			t.Fatalf("past stale-if-error got %d, want the 503", w.Code)
		}
		if st := rc.Stats(); st.StaleServed != 1 || st.LoadErrors != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestHTTPCoalescing(t *testing.T) {
	tests := []struct {
		name   string
		resp   []string
		calls  int // handler calls for n concurrent requests
		shared bool
	}{
		{"shareable response", []string{"Cache-Control", "max-age=60"}, 1, true},
		{"shareable, not stored", []string{"Cache-Control", "public"}, 1, true},
		{"Set-Cookie goes to its own request only", []string{"Cache-Control", "max-age=60", "Set-Cookie", "s=1"}, 50, false},
		{"private goes to its own request only", []string{"Cache-Control", "private"}, 50, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 50
				gate := make(chan struct{})
				o := newOrigin(200, tc.resp...)
				slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-gate
					o.ServeHTTP(w, r)
				})
				h := newResponseCache(t).Middleware(slow)
				bodies := make([]string, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { bodies[i] = do(h, "GET", "/a").Body.String() })
				}
				synctest.Wait()
				close(gate)
				wg.Wait()
				if o.n() != tc.calls {
					t.Fatalf("%d handler calls for %d concurrent requests, want %d", o.n(), n, tc.calls)
				}
				seen := map[string]bool{}
				for _, b := range bodies {
					seen[b] = true
				}
				if tc.shared != (len(seen) == 1) {
					t.Fatalf("%d distinct bodies for %d requests", len(seen), n)
				}
			})
		})
	}
}

func TestHTTPHandlerPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		h := newResponseCache(t, cache.WithLogger(logs.logger())).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("handler bug")
		}))
		w := do(h, "GET", "/a")
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != 500 || p.Status != 500 {
			t.Fatalf("got %d %q, want a 500 problem", w.Code, w.Body.String())
		}
		if strings.Contains(w.Body.String(), "handler bug") {
			t.Fatal("the panic value reached the client")
		}
		if !strings.Contains(logs.String(), "handler bug") {
			t.Fatal("the panic was not logged")
		}
	})
}

func TestHTTPAbortHandlerPanicsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newResponseCache(t).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler for net/http", r)
			}
		}()
		do(h, "GET", "/a")
	})
}

func TestHTTPLoadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := make(chan struct{})
		defer close(stuck) // only so the handler ends with the test
		h := newResponseCache(t, cache.WithLoadTimeout(2*time.Second)).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-stuck // a handler that never returns, whatever its context says
		}))
		start := time.Now()
		if w := do(h, "GET", "/a"); w.Code != http.StatusGatewayTimeout || time.Since(start) != 2*time.Second {
			t.Fatalf("got %d after %v, want 504 after 2s", w.Code, time.Since(start))
		}
	})
}

func TestHTTPErrorHandler(t *testing.T) {
	rc := newResponseCache(t, cache.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "custom: "+err.Error(), http.StatusTeapot)
	}))
	rc.Close()
	w := do(rc.Middleware(newOrigin(200)), "GET", "/a")
	if w.Code != http.StatusTeapot || !strings.Contains(w.Body.String(), "custom: cache: closed") {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}

func TestHTTPKeysByURL(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60")
	h := newResponseCache(t).Middleware(o)
	for i, target := range []string{"/a", "/a?x=1", "/a?x=2", "/b", "http://other.example/a", "/a%2Fb", "/a/b"} {
		if got, want := do(h, "GET", target).Body.String(), fmt.Sprintf("payload#%d", i+1); got != want {
			t.Fatalf("%s got %q, want its own response %q", target, got, want)
		}
	}
}

func TestHTTPMaxBytes(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60")
	o.body = strings.Repeat("x", 1000)
	rc := newResponseCache(t, cache.WithMaxBytes(5000))
	h := rc.Middleware(o)
	for i := range 20 {
		do(h, "GET", "/"+strconv.Itoa(i))
	}
	if n := rc.Len(); n < 2 || n > 4 {
		t.Fatalf("%d responses of about 1.1 KB stored within 5000 bytes", n)
	}
	rc.Purge()
	if rc.Len() != 0 {
		t.Fatal("Purge left responses")
	}
}

func TestNewResponseCacheRejectsCacheOptions(t *testing.T) {
	for _, opt := range []cache.Option{
		cache.WithOnEvict(func(string, int, cache.EvictReason) {}),
		cache.WithNegativeCache(time.Second, nil),
		cache.WithMaxBodyBytes(0),
		cache.WithErrorHandler(nil),
	} {
		if rc, err := cache.NewResponseCache("test", opt); err == nil {
			rc.Close()
			t.Fatalf("accepted %T", opt)
		}
	}
}

// TestHTTPOverTheNetwork runs the middleware in a real server: Age, ETag
// and 304 as a client sees them.
func TestHTTPOverTheNetwork(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60", "Content-Type", "application/json")
	rc := newResponseCache(t)
	srv := httptest.NewServer(rc.Middleware(o))
	defer srv.Close()
	get := func(kv ...string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/instances/1", nil)
		for i := 0; i < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := get()
	second := get()
	if second.Header.Get("Age") == "" || second.Header.Get("Etag") != first.Header.Get("Etag") || second.ContentLength != 9 {
		t.Fatalf("second response: %v", second.Header)
	}
	if nm := get("If-None-Match", first.Header.Get("Etag")); nm.StatusCode != 304 {
		t.Fatalf("conditional GET got %d", nm.StatusCode)
	}
	if o.n() != 1 {
		t.Fatalf("%d handler calls", o.n())
	}
	if st := rc.Stats(); st.Misses != 1 || st.Hits != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHTTPRequestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newResponseCache(t).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // slower than the client will wait
		}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/a", nil).WithContext(ctx))
		if w.Code != http.StatusGatewayTimeout {
			t.Fatalf("got %d past the request's deadline, want 504", w.Code)
		}
	})
}

func TestHTTPInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=60")
		rc := newResponseCache(t)
		h := rc.Middleware(o)
		for _, target := range []string{"/instances/1", "/instances/1?view=full", "/instances/2"} {
			do(h, "GET", target)
		}
		gate := make(chan struct{})
		slowOrigin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-gate; o.ServeHTTP(w, r) })
		go do(rc.Middleware(slowOrigin), "GET", "/instances/1?view=slow") // a load read before the change
		synctest.Wait()

		rc.Invalidate("/instances/1")
		close(gate)
		synctest.Wait()
		if rc.Len() != 1 {
			t.Fatalf("%d responses stored after Invalidate, want only /instances/2", rc.Len())
		}
		if got := do(h, "GET", "/instances/1").Body.String(); got != "payload#5" {
			t.Fatalf("after Invalidate got %q, want a new response", got)
		}
		if got := do(h, "GET", "/instances/2").Body.String(); got != "payload#3" {
			t.Fatalf("another path lost its response: %q", got)
		}
	})
}

// TestHTTPInvalidateDuringAVaryingLoad: the first response for a URL that
// varies is stored under its own Vary values, not the request's key (the
// names were not known yet); Invalidate or Purge during that load must
// still keep it from being stored.
func TestHTTPInvalidateDuringAVaryingLoad(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(rc *cache.ResponseCache)
	}{
		{"Invalidate", func(rc *cache.ResponseCache) { rc.Invalidate("/instances/1") }},
		{"Purge", func(rc *cache.ResponseCache) { rc.Purge() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOrigin(200, "Cache-Control", "max-age=60", "Vary", "Accept-Language")
				gate := make(chan struct{})
				slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-gate; o.ServeHTTP(w, r) })
				rc := newResponseCache(t)
				h := rc.Middleware(slow)
				go do(h, "GET", "/instances/1", "Accept-Language", "en") // read before the change
				synctest.Wait()
				tc.meanwhile(rc)
				close(gate)
				synctest.Wait()
				if rc.Len() != 0 {
					t.Fatalf("%d responses stored from a load that %s made stale", rc.Len(), tc.name)
				}
				if got := do(h, "GET", "/instances/1", "Accept-Language", "en").Body.String(); got != "payload#2" {
					t.Fatalf("after %s got %q, want a new response", tc.name, got)
				}
			})
		})
	}
}

// TestHTTPStaleIfErrorAge: a stale response served because the refresh
// failed carries its age when it is sent, the time the failed load took
// included.
func TestHTTPStaleIfErrorAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=10")
		failing := false
		h := newResponseCache(t, cache.WithJitter(0), cache.WithStaleIfError(time.Minute)).Middleware(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failing {
					time.Sleep(5 * time.Second) // a slow failure
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				o.ServeHTTP(w, r)
			}))
		do(h, "GET", "/a")
		failing = true
		time.Sleep(10 * time.Second)
		w := do(h, "GET", "/a")
		if w.Code != 200 || w.Body.String() != "payload#1" {
			t.Fatalf("got %d %q, want the stale response", w.Code, w.Body.String())
		}
		if age := w.Header().Get("Age"); age != "15" {
			t.Fatalf("Age %q, want 15: the response was 15s old when sent", age)
		}
	})
}

// TestHTTPNotModifiedKeepsSetCookie: a 304 answering the request whose
// own response sets a cookie still sets it, as the handler asked.
func TestHTTPNotModifiedKeepsSetCookie(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60", "ETag", `"v1"`, "Set-Cookie", "session=abc")
	h := newResponseCache(t).Middleware(o)
	w := do(h, "GET", "/a", "If-None-Match", `"v1"`)
	if w.Code != 304 || w.Header().Get("Set-Cookie") != "session=abc" {
		t.Fatalf("got %d with header %v, want 304 with the handler's Set-Cookie", w.Code, w.Header())
	}
	if w := do(h, "GET", "/a", "If-None-Match", `"v1"`); w.Code != 304 || w.Header().Get("Set-Cookie") != "session=abc" || o.n() != 2 {
		t.Fatalf("second request: %d %v after %d handler calls; want its own 304 with its own cookie", w.Code, w.Header(), o.n())
	}
}

// TestHTTPMaxBytesBoundsMemory: the responses a ResponseCache keeps take
// about WithMaxBytes of memory, not more, however the handler wrote its
// body (here in two halves, which leaves a buffer grown past the body).
func TestHTTPMaxBytesBoundsMemory(t *testing.T) {
	const maxBytes = 4 << 20
	half := strings.Repeat("x", 32<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, half)
		io.WriteString(w, half)
	})
	rc := newResponseCache(t, cache.WithMaxBytes(maxBytes), cache.WithMaxBodyBytes(1<<20))
	cached := rc.Middleware(h)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 200 {
		do(cached, "GET", "/"+strconv.Itoa(i))
	}
	after := heap()
	grown := after - min(before, after)
	if n := rc.Len(); n < maxBytes/(80<<10) {
		t.Fatalf("only %d responses of 64 KiB stored within %d bytes", n, maxBytes)
	}
	t.Logf("%d responses stored take %d bytes of heap", rc.Len(), grown)
	if grown > maxBytes*11/10 {
		t.Fatalf("%d responses stored take %d bytes of heap, over WithMaxBytes %d", rc.Len(), grown, maxBytes)
	}
	runtime.KeepAlive(rc)
}

// TestHTTPMaxBytesCountsKeys: a response's key (its URL and Vary values,
// all chosen by the client) is memory the cache keeps with it, so it
// counts against WithMaxBytes: long query strings cannot make a small
// cache hold far more than its bound.
func TestHTTPMaxBytesCountsKeys(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60", "Vary", "X-Filter")
	rc := newResponseCache(t, cache.WithMaxBytes(1<<20))
	h := rc.Middleware(o)
	long := strings.Repeat("q", 32<<10)
	for i := range 100 {
		do(h, "GET", "/a?"+strconv.Itoa(i)+"="+long, "X-Filter", long)
	}
	if n := rc.Len(); n > (1<<20)/(64<<10) {
		t.Fatalf("%d responses keyed by 64 KiB of URL and Vary values each stored within 1 MiB", n)
	}
}
