package idempotency_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/idempotency"
)

var benchKeys atomic.Int64

// discard is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware, not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware: a POST with a 40-byte JSON body through the bare
// handler (raw), the middleware with a new key each time (memory store),
// and a replay of a stored response.
func BenchmarkMiddleware(b *testing.B) {
	body := []byte(`{"shape":"small","image":"ubuntu-24.04"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"i-1"}`))
	})
	run := func(b *testing.B, h http.Handler, key func(int) string) {
		rd := bytes.NewReader(body)
		r, _ := http.NewRequest(http.MethodPost, "/instances", rd)
		r.RemoteAddr = "192.0.2.1:1234"
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rd.Reset(body)
			r.Body = io.NopCloser(rd)
			r.Header["Idempotency-Key"] = []string{key(i)}
			clear(w.h)
			h.ServeHTTP(w, r)
			i++
		}
	}
	g, err := idempotency.New("bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		run(b, handler, func(int) string { return `"k"` })
	})
	b.Run("new-key", func(b *testing.B) {
		// A key never sent before each time; formatting it costs one of
		// the allocations counted.
		run(b, g.Middleware(handler), func(int) string {
			buf := make([]byte, 0, 48)
			buf = append(buf, `"8e03978e-`...)
			buf = strconv.AppendInt(buf, benchKeys.Add(1), 10)
			return string(append(buf, '"'))
		})
	})
	b.Run("replay", func(b *testing.B) {
		g, _ := idempotency.New("bench")
		run(b, g.Middleware(handler), func(int) string { return `"k"` })
	})
}
