package paved_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved"
)

// discard is a ResponseWriter that keeps nothing, reusing its header map,
// so benchmarks measure the writer and not the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkWriteError(b *testing.B) {
	w := &discard{h: make(http.Header)}
	r := httptest.NewRequest("GET", "/orders/7", nil)
	b.Run("raw", func(b *testing.B) { // what a hand-written handler does: plain text
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			http.Error(w, "orders: already shipped", http.StatusConflict)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			paved.WriteError(w, r, errShipped)
		}
	})
	b.Run("paved/retry_delay", func(b *testing.B) {
		b.ReportAllocs()
		err := slowDown{30e9}
		for b.Loop() {
			clear(w.h)
			paved.WriteError(w, r, err)
		}
	})
	b.Run("paved/deadline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			paved.WriteError(w, r, context.DeadlineExceeded)
		}
	})
}

func BenchmarkResponseWriter(b *testing.B) {
	w := &discard{h: make(http.Header)}
	body := []byte(`{"id":"inst-0001"}`)
	h := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h(w)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rw := paved.NewResponseWriter(w)
			h(rw)
			_ = rw.Status()
		}
	})
}
