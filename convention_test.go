package paved_test

import (
	"errors"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/retry"
	"github.com/paved-go/paved/tracing"
)

// TestNilReceiversAreDefaults checks the convention's rule on nil: an
// adapter method called on a nil value is the package's zero-config
// default (or, for ratelimit, which has no default rate, no limit), and
// never a nil-pointer panic when the first request arrives.
func TestNilReceiversAreDefaults(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	middleware := []struct {
		name string
		wrap func(http.Handler) http.Handler
	}{
		{"breaker.Breaker.Middleware", (*breaker.Breaker)(nil).Middleware},
		{"breaker.Registry.Middleware", (*breaker.Registry)(nil).Middleware},
		{"cache.ResponseCache.Middleware", (*cache.ResponseCache)(nil).Middleware},
		{"ratelimit.Policies.Middleware", (*ratelimit.Policies)(nil).Middleware},
		{"tracing.Tracer.Middleware", (*tracing.Tracer)(nil).Middleware},
		{"tracing.Tracer.AccessLog", (*tracing.Tracer)(nil).AccessLog},
		{"audit.Emitter.Middleware", (*audit.Emitter)(nil).Middleware},
		{"overload.Bulkhead.Middleware", (*overload.Bulkhead)(nil).Middleware},
		{"overload.Bulkheads.Middleware", (*overload.Bulkheads)(nil).Middleware},
		{"overload.Limiter.Middleware", (*overload.Limiter)(nil).Middleware},
		{"idempotency.Guard.Middleware", (*idempotency.Guard)(nil).Middleware},
		{"faults.Injector.Middleware", (*faults.Injector)(nil).Middleware},
	}
	for _, tc := range middleware {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.wrap(ok).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != http.StatusOK || w.Body.String() != "ok" {
				t.Fatalf("got %d %q, want 200 ok", w.Code, w.Body)
			}
		})
	}

	srv := httptest.NewServer(ok)
	defer srv.Close()
	transports := []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"breaker.Breaker.Transport", (*breaker.Breaker)(nil).Transport},
		{"breaker.Registry.Transport", (*breaker.Registry)(nil).Transport},
		{"ratelimit.Limiter.Transport", (*ratelimit.Limiter)(nil).Transport},
		{"retry.Retrier.Transport", (*retry.Retrier)(nil).Transport},
		{"tracing.Tracer.Transport", (*tracing.Tracer)(nil).Transport},
		{"overload.Bulkhead.Transport", (*overload.Bulkhead)(nil).Transport},
		{"overload.Throttle.Transport", (*overload.Throttle)(nil).Transport},
		{"idempotency.Guard.Transport", (*idempotency.Guard)(nil).Transport},
		{"faults.Injector.Transport", (*faults.Injector)(nil).Transport},
	}
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: tc.wrap(base)}
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
			}
		})
	}
}

// TestNilAuthorizerDenies: where a nil value cannot mean a safe default
// (an authorizer with no rules), the nil value fails closed: every
// request is denied and Check reports the mistake at start-up, never a
// nil-pointer panic.
func TestNilAuthorizerDenies(t *testing.T) {
	var az *authz.Authorizer
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	w := httptest.NewRecorder()
	az.Middleware(ok).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("nil Authorizer's middleware answered %d %q, want 403 problem+json", w.Code, w.Header().Get("Content-Type"))
	}
	if err := az.Check("GET /"); err == nil {
		t.Fatal("Check of a nil Authorizer reported nothing")
	}
	if _, _, err := az.Authorize(t.Context(), &authz.Call{Operation: "GET /"}); !errors.Is(err, authz.ErrDenied) {
		t.Fatalf("Authorize on a nil Authorizer = %v, want ErrDenied", err)
	}
	if err := az.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestExamplesUsePublicAPI: examples and commands show what a user can
// write, so they import no internal package (a user's module cannot),
// their tests included.
func TestExamplesUsePublicAPI(t *testing.T) {
	for _, root := range []string{"examples", "cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/paved-go/paved/internal") {
					t.Errorf("%s imports %s", path, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestCorePackagesImportNoGRPCOrRedis checks the layout's rule: core
// packages never import gRPC or a Redis client, not even in their tests;
// those live in the *grpc and redis* subpackages.
func TestCorePackagesImportNoGRPCOrRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	core := []string{".", "./breaker", "./ratelimit", "./retry", "./cache", "./authz", "./audit",
		"./tracing", "./platform", "./overload", "./idempotency", "./status", "./faults"}
	out, err := exec.Command("go", append([]string{"list", "-deps", "-test"}, core...)...).Output() // tests included
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		if strings.HasPrefix(dep, "google.golang.org/grpc") || strings.HasPrefix(dep, "github.com/redis/") {
			t.Errorf("a core package depends on %s", dep)
		}
	}
}
