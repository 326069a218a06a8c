package authz_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/authz"
)

// TestEvaluate decides requests through the middleware on a Mux and
// checks what the client sees.
func TestEvaluate(t *testing.T) {
	const (
		launch    = "POST /instances"
		terminate = "POST /instances/{id}/terminate"
		read      = "GET /instances/{id}"
	)
	sameCompartment := `all(request.body.instanceIds, {resource("instance", #).compartment == principal.tenant})`
	tests := []struct {
		name         string
		rules        []authz.Rule
		opts         []authz.Option
		method, path string
		pattern      string
		user, body   string
		status       int
		handlerBody  string // when allowed
	}{
		{name: "role allows", rules: []authz.Rule{authz.Allow("admins", `hasRole("admin")`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 200},
		{name: "role missing denies", rules: []authz.Rule{authz.Allow("admins", `hasRole("admin")`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "bob", status: 403},
		{name: "scope allows", rules: []authz.Rule{authz.Allow("readers", `hasScope("instances:read")`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 200},
		{name: "permission missing denies", rules: []authz.Rule{authz.Allow("writers", `hasPermission("instances:write")`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 403},
		{name: "tenant match by path value", rules: []authz.Rule{authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 200},
		{name: "tenant mismatch denies", rules: []authz.Rule{authz.Allow("owner", `inTenant(resource("instance", request.pathValue("id")).compartment)`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: read, method: "GET", path: "/instances/i-3", user: "alice", status: 403},
		{name: "all over body ids allows", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-1", "i-2", 7]}`,
			status: 200, handlerBody: `alice|{"instanceIds": ["i-1", "i-2", 7]}`},
		{name: "all over body ids, one foreign, denies", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-1", "i-3"]}`, status: 403},
		{name: "any over body ids", rules: []authz.Rule{authz.Allow("some", `any(request.body.instanceIds, {resource("instance", #).state == "stopped"})`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "bob", body: `{"instanceIds": ["i-1", "i-2"]}`, status: 200},
		{name: "missing body field denies", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"other": 1}`, status: 403},
		{name: "missing body denies", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", status: 403},
		{name: "unknown resource denies", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-404"]}`, status: 403},
		{name: "oversized body is 413", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithMaxBodyBytes(16)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-1", "i-2"]}`, status: 413},
		{name: "bad JSON is 400", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": [`, status: 400},
		{name: "deep JSON is 400", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithMaxBodyDepth(4)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"a": [[[[1]]]]}`, status: 400},
		{name: "resolver error denies 403", rules: []authz.Rule{authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: read, method: "GET", path: "/instances/broken", user: "alice", status: 403},
		{name: "resolver error is 503 when asked", rules: []authz.Rule{authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithOutageStatus(http.StatusServiceUnavailable)},
			pattern: read, method: "GET", path: "/instances/broken", user: "alice", status: 503},
		{name: "not found is 403 even with 503 outages", rules: []authz.Rule{authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithOutageStatus(http.StatusServiceUnavailable)},
			pattern: read, method: "GET", path: "/instances/i-404", user: "alice", status: 403},
		{name: "lookup cap denies", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithMaxLookups(2)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-1", "i-2", "7"]}`, status: 403},
		{name: "memo hits do not count against the cap", rules: []authz.Rule{authz.Allow("same", sameCompartment)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance), authz.WithMaxLookups(1)},
			pattern: launch, method: "POST", path: "/instances", user: "alice", body: `{"instanceIds": ["i-1", "i-1", "i-1"]}`, status: 200},
		{name: "no rule matches: deny by default", rules: []authz.Rule{authz.Allow("never", `false`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 403},
		{name: "forbid wins over allow", rules: []authz.Rule{authz.Allow("admins", `hasRole("admin")`), authz.Forbid("stopped", `resource("instance", request.pathValue("id")).state == "stopped"`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: terminate, method: "POST", path: "/instances/i-2/terminate", user: "alice", status: 403},
		{name: "forbid that fails denies", rules: []authz.Rule{authz.Allow("admins", `hasRole("admin")`), authz.Forbid("stopped", `resource("instance", request.pathValue("id")).state == "stopped"`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: terminate, method: "POST", path: "/instances/broken/terminate", user: "alice", status: 403},
		{name: "forbid not matching lets allow decide", rules: []authz.Rule{authz.Allow("admins", `hasRole("admin")`), authz.Forbid("stopped", `resource("instance", request.pathValue("id")).state == "stopped"`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: terminate, method: "POST", path: "/instances/i-1/terminate", user: "alice", status: 200},
		{name: "failing allow does not stop another allow", rules: []authz.Rule{authz.Allow("owner", `resource("instance", "broken") != nil`), authz.Allow("admins", `hasRole("admin")`)},
			opts:    []authz.Option{authz.WithResolver("instance", resolveInstance)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "alice", status: 200},
		{name: "header from allow-list", rules: []authz.Rule{authz.Allow("tenant", `request.header("X-Tenant") == principal.tenant`)},
			opts:    []authz.Option{authz.WithHeaders("X-Tenant")},
			pattern: read, method: "GET", path: "/instances/i-1", user: "bob", status: 403},
		{name: "no credentials is 401", rules: []authz.Rule{authz.Allow("all", `true`)},
			pattern: read, method: "GET", path: "/instances/i-1", status: 401},
		{name: "bad credentials is 401", rules: []authz.Rule{authz.Allow("all", `true`)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "mallory", status: 401},
		{name: "optional mode lets anonymous through", rules: []authz.Rule{authz.Allow("anyone", `principal.id == ""`)},
			opts:    []authz.Option{authz.WithAuthentication(authz.Optional, read)},
			pattern: read, method: "GET", path: "/instances/i-1", status: 200},
		{name: "optional mode still rejects bad credentials", rules: []authz.Rule{authz.Allow("anyone", `true`)},
			opts:    []authz.Option{authz.WithAuthentication(authz.Optional, read)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "mallory", status: 401},
		{name: "mode none ignores credentials", rules: []authz.Rule{authz.Allow("anonymous", `principal.id == ""`)},
			opts:    []authz.Option{authz.WithAuthentication(authz.None, read)},
			pattern: read, method: "GET", path: "/instances/i-1", user: "mallory", status: 200},
		{name: "query parameter", rules: []authz.Rule{authz.Allow("dry", `request.query("dry") == "1" && request.method == "GET" && request.pattern == "GET /instances/{id}"`)},
			pattern: read, method: "GET", path: "/instances/i-1?x=2&dry=1", user: "bob", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			az := newAuthorizer(t, append([]authz.Option{authz.WithRoute(tc.pattern, tc.rules...)}, tc.opts...)...)
			mux := az.NewMux()
			mux.Handle(tc.pattern, ok)
			res := do(t, mux, tc.method, tc.path, tc.user, tc.body)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d (body %q)", res.status, tc.status, res.body)
			}
			if tc.status != 200 {
				p := decodeProblem(t, res)
				for _, r := range tc.rules {
					if strings.Contains(p.Detail, r.Expression) || strings.Contains(res.body, r.Expression) {
						t.Errorf("the answer %q leaks the rule's text", res.body)
					}
				}
				return
			}
			if tc.handlerBody != "" && res.body != tc.handlerBody {
				t.Errorf("handler saw %q, want %q", res.body, tc.handlerBody)
			}
		})
	}
}

func TestComputedHeaderNames(t *testing.T) {
	az := newAuthorizer(t, authz.WithHeaders("X-Tenant"),
		authz.WithRoute("GET /h/{name}", authz.Allow("echo", `request.header(request.pathValue("name")) == "yes"`)))
	mux := az.NewMux()
	mux.Handle("GET /h/{name}", ok)
	for _, tc := range []struct {
		name   string
		status int
	}{{"X-Tenant", 200}, {"x-tenant", 200}, {"X-Other", 403}, {"Authorization", 403}} {
		r := httptest.NewRequest("GET", "/h/"+tc.name, nil)
		r.Header.Set("X-Test-User", "bob")
		r.Header.Set("X-Tenant", "yes")
		r.Header.Set("X-Other", "yes")
		r.Header.Set("Authorization", "yes")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("header %s: %d, want %d", tc.name, w.Code, tc.status)
		}
	}
}
