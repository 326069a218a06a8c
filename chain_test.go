package paved_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved"
)

// tag returns middleware that records its name on the way in and out.
func tag(name string, trace *[]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*trace = append(*trace, name+">")
			next.ServeHTTP(w, r)
			*trace = append(*trace, "<"+name)
		})
	}
}

func TestChainOrder(t *testing.T) {
	tests := []struct {
		name  string
		build func(trace *[]string) func(http.Handler) http.Handler
		want  string
	}{
		{"empty", func(*[]string) func(http.Handler) http.Handler { return paved.Chain() }, "h"},
		{"one", func(tr *[]string) func(http.Handler) http.Handler { return paved.Chain(tag("a", tr)) }, "a> h <a"},
		{"first is outermost", func(tr *[]string) func(http.Handler) http.Handler {
			return paved.Chain(tag("a", tr), tag("b", tr), tag("c", tr))
		}, "a> b> c> h <c <b <a"},
		{"nil skipped", func(tr *[]string) func(http.Handler) http.Handler {
			return paved.Chain(nil, tag("a", tr), nil, tag("b", tr))
		}, "a> b> h <b <a"},
		{"nested chains", func(tr *[]string) func(http.Handler) http.Handler {
			return paved.Chain(tag("a", tr), paved.Chain(tag("b", tr), tag("c", tr)))
		}, "a> b> c> h <c <b <a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var trace []string
			h := tc.build(&trace)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				trace = append(trace, "h")
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if got := strings.Join(trace, " "); got != tc.want {
				t.Fatalf("order = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChainCopiesArguments(t *testing.T) {
	var trace []string
	mws := []func(http.Handler) http.Handler{tag("a", &trace)}
	chain := paved.Chain(mws...)
	mws[0] = tag("changed", &trace)
	chain(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(trace, " "); got != "a> <a" {
		t.Fatalf("trace = %q: Chain saw a later change to the caller's slice", got)
	}
}
