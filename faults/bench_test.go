package faults_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/faults"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware compares the bare handler with it behind an
// Injector with no rules (the default) and with rules that do not match
// the request.
func BenchmarkMiddleware(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	r := httptest.NewRequest("GET", "/instances/7", nil)
	r.Header.Set("Accept", "application/json")
	w := &discard{h: http.Header{}}
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	}
	b.Run("raw", func(b *testing.B) { run(b, next) })
	b.Run("paved/off", func(b *testing.B) { run(b, quiet(b).Middleware(next)) })
	b.Run("paved/no-match", func(b *testing.B) {
		run(b, quiet(b,
			faults.Rule{Name: "post", Percent: 100, Status: 503, Match: faults.Match{Method: "POST"}},
			faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{PathPrefix: "/launch", Header: "X-Drill: on"}},
		).Middleware(next))
	})
}

type nopTransport struct{ resp http.Response }

func (t *nopTransport) RoundTrip(*http.Request) (*http.Response, error) { return &t.resp, nil }

// BenchmarkTransport compares a RoundTripper with it behind an Injector
// with no rules (the default) and with rules that do not match.
func BenchmarkTransport(b *testing.B) {
	base := &nopTransport{resp: http.Response{StatusCode: 200, Body: http.NoBody}}
	r := httptest.NewRequest("GET", "http://upstream:8080/instances/7", nil)
	run := func(b *testing.B, rt http.RoundTripper) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.RoundTrip(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw", func(b *testing.B) { run(b, base) })
	b.Run("paved/off", func(b *testing.B) { run(b, quiet(b).Transport(base)) })
	b.Run("paved/no-match", func(b *testing.B) {
		run(b, quiet(b,
			faults.Rule{Name: "other", Percent: 100, Reset: true, Match: faults.Match{Host: "inventory:8080"}},
			faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Header: "X-Drill: on"}},
		).Transport(base))
	})
}
