//go:build !race

package faults_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/faults"
)

// TestNoAllocsWithoutAFault checks the promise of the benchmarks: a
// request no fault is injected into allocates nothing, with or without
// rules.
func TestNoAllocsWithoutAFault(t *testing.T) {
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r := httptest.NewRequest("GET", "http://upstream:8080/instances/7", nil)
	w := &discard{h: http.Header{}}
	base := &nopTransport{resp: http.Response{StatusCode: 200, Body: http.NoBody}}
	other := []faults.Rule{
		{Name: "post", Percent: 100, Status: 503, Match: faults.Match{Method: "POST"}},
		{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Header: "X-Drill: on"}},
		{Name: "ops", Percent: 100, Status: 503, Match: faults.Match{Principal: "ops"}},
	}
	for _, tc := range []struct {
		name  string
		rules []faults.Rule
	}{{"off", nil}, {"no match", other}} {
		t.Run(tc.name, func(t *testing.T) {
			inj := quiet(t, tc.rules...)
			h, rt := inj.Middleware(next), inj.Transport(base)
			if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
				t.Errorf("Middleware: %v allocs per request", n)
			}
			if n := testing.AllocsPerRun(100, func() { rt.RoundTrip(r) }); n != 0 {
				t.Errorf("Transport: %v allocs per request", n)
			}
		})
	}
}
