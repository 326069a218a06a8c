package authz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/paved-go/paved/authz"
)

// BenchmarkEvaluate compares expr.Run of a compiled policy on a prebuilt
// environment (raw) with evaluating the same policy for a request, the
// environment built from the request and the principal (paved).
func BenchmarkEvaluate(b *testing.B) {
	p, err := authz.Compile(`hasRole("admin") && request.method == "GET" && request.pathValue("id") != ""`)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	var r *http.Request
	mux.HandleFunc("GET /instances/{id}", func(_ http.ResponseWriter, req *http.Request) { r = req })
	mux.ServeHTTP(nil, httptest.NewRequest("GET", "/instances/i-1", nil))
	alice := users["alice"]
	b.Run("raw", func(b *testing.B) {
		prog, env := authz.Program(p), authz.Environment(p, r, alice)
		b.ReportAllocs()
		for b.Loop() {
			if out, err := expr.Run(prog, env); err != nil || out != true {
				b.Fatal(out, err)
			}
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := p.Eval(r, alice); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware compares a bare handler on a ServeMux (raw) with
// the same handler behind the middleware: API-key authentication
// (NewAPIKeys) and a role check (paved).
func BenchmarkMiddleware(b *testing.B) {
	var hits int
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ })
	r := httptest.NewRequest("GET", "/instances/i-1", nil)
	r.Header.Set("X-API-Key", "k-3f9a1c2e7b4d4e8f9a0b1c2d3e4f5a6b")
	w := &discard{h: http.Header{}}
	b.Run("raw", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle("GET /instances/{id}", h)
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(w, r)
		}
	})
	b.Run("paved", func(b *testing.B) {
		keys, err := authz.NewAPIKeys(map[string]*authz.Principal{
			"k-3f9a1c2e7b4d4e8f9a0b1c2d3e4f5a6b": {ID: "alice", Tenant: "blue", Roles: []string{"admin"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		az, err := authz.New(authz.WithAuthenticator(keys),
			authz.WithRoute("GET /instances/{id}", authz.Allow("admins", `hasRole("admin")`)))
		if err != nil {
			b.Fatal(err)
		}
		mux := az.NewMux()
		mux.Handle("GET /instances/{id}", h)
		b.ReportAllocs()
		hits = 0
		for b.Loop() {
			mux.ServeHTTP(w, r)
		}
		if hits == 0 {
			b.Fatal("the handler never ran")
		}
	})
}

// BenchmarkResourceCheck evaluates a policy that asks resource() twice
// for the same instance: raw runs the program on an environment whose
// memo already holds it, paved evaluates for a request, one resolver
// call and one memo hit.
func BenchmarkResourceCheck(b *testing.B) {
	res := map[string]any{"compartment": "blue", "state": "running"}
	p, err := authz.Compile(
		`resource("instance", request.pathValue("id")).compartment == principal.tenant && resource("instance", request.pathValue("id")).state == "running"`,
		authz.WithResolver("instance", func(_ context.Context, id string) (any, error) { return res, nil }))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	var r *http.Request
	mux.HandleFunc("GET /instances/{id}", func(_ http.ResponseWriter, req *http.Request) { r = req })
	mux.ServeHTTP(nil, httptest.NewRequest("GET", "/instances/i-1", nil))
	alice := users["alice"]
	b.Run("raw", func(b *testing.B) {
		prog, env := authz.Program(p), authz.Environment(p, r, alice)
		b.ReportAllocs()
		for b.Loop() {
			if out, err := expr.Run(prog, env); err != nil || out != true {
				b.Fatal(out, err)
			}
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := p.Eval(r, alice); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
