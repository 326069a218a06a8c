package cache_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/cache"
)

// headerSink is a ResponseWriter that keeps one header map and drops
// the rest, so the benchmark measures the middleware.
type headerSink struct{ h http.Header }

func (w *headerSink) Header() http.Header         { return w.h }
func (w *headerSink) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerSink) WriteHeader(int)             {}

// BenchmarkMiddlewareRevalidate compares calling a small JSON handler
// (raw) with serving its stored response after a conditional request
// that the handler answers 304 (paved: max-age=0 with an ETag, so every
// request revalidates: one load, a 304, the stored response updated and
// sent).
func BenchmarkMiddlewareRevalidate(b *testing.B) {
	type instance struct {
		ID, State, Shape, Compartment string
		OCPUs                         int
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body, err := json.Marshal(instance{"inst-0001", "RUNNING", "VM.Standard.E4.Flex", "dev", 2})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	rc, err := cache.NewResponseCache("test")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rc.Close() })
	cached := rc.Middleware(handler)
	req := httptest.NewRequest("GET", "/instances/inst-0001", nil)
	w := &headerSink{h: make(http.Header)}
	cached.ServeHTTP(w, req)
	if rc.Len() != 1 {
		b.Fatal("not stored")
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"raw", handler}, {"paved", cached}} {
		b.Run(bc.name, func(b *testing.B) {
			w := &headerSink{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
		})
	}
	if st := rc.Stats(); st.Hits != 0 || st.Misses < 2 {
		b.Fatalf("not revalidating: %+v", st)
	}
}
