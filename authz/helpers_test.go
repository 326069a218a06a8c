package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/authz"
)

// testAuth authenticates the header X-Test-User against a fixed set of
// principals: a cheap authenticator for tests and benchmarks.
type testAuth map[string]*authz.Principal

func (t testAuth) Authenticate(_ context.Context, h authz.Headers) (*authz.Principal, error) {
	u := h.Get("X-Test-User")
	if u == "" {
		return nil, authz.ErrNoCredentials
	}
	if p, ok := t[u]; ok {
		return p, nil
	}
	return nil, errors.Join(authz.ErrUnauthenticated, errors.New("unknown test user"))
}

func (t testAuth) Challenge(err error) string {
	if errors.Is(err, authz.ErrNoCredentials) {
		return `Test realm="test"`
	}
	return `Test realm="test", error="invalid_user"`
}

var users = testAuth{
	"alice": {ID: "alice", Type: "user", Tenant: "blue", Roles: []string{"admin"}, Scopes: []string{"instances:read"}},
	"bob":   {ID: "bob", Type: "user", Tenant: "green", Roles: []string{"viewer"}},
	"carol": {ID: "carol", Type: "service", Tenant: "blue", Scopes: []string{"instances:write"}},
}

// instances is a resolver of "instance" resources for tests.
var instances = map[string]map[string]any{
	"i-1": {"compartment": "blue", "state": "running"},
	"i-2": {"compartment": "blue", "state": "stopped"},
	"i-3": {"compartment": "green", "state": "running"},
	"7":   {"compartment": "blue", "state": "running"},
}

func resolveInstance(_ context.Context, id string) (any, error) {
	if id == "broken" {
		return nil, errors.New("db down")
	}
	v, ok := instances[id]
	if !ok {
		return nil, authz.ErrNotFound
	}
	return v, nil
}

func newAuthorizer(t testing.TB, opts ...authz.Option) *authz.Authorizer {
	t.Helper()
	az, err := authz.New(append([]authz.Option{authz.WithAuthenticator(users)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { az.Close() })
	return az
}

// ok is a handler that answers 200 with the principal's id and, when the
// request has a body, what remains of it for the handler.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, _ := authz.PrincipalID(r.Context())
	body, _ := io.ReadAll(r.Body)
	io.WriteString(w, id+"|"+string(body))
})

type result struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, h http.Handler, method, target, user, body string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return result{status: w.Code, header: w.Header(), body: w.Body.String()}
}

type problem struct {
	Type, Title, Detail string
	Status              int
}

func decodeProblem(t testing.TB, res result) problem {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (body %q)", ct, res.body)
	}
	var p problem
	if err := json.Unmarshal([]byte(res.body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}
