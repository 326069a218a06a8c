package authz_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/paved-go/paved/authz"
)

func ExampleCompile() {
	_, err := authz.Compile(`hasRole("admin") && principal.tenant == reqest.header("X-Tenant")`)
	fmt.Println(err)

	p, err := authz.Compile(`hasRole("admin") && request.method == "GET"`)
	if err != nil {
		panic(err)
	}
	admin := &authz.Principal{ID: "alice", Roles: []string{"admin"}}
	allowed, err := p.Eval(httptest.NewRequest("GET", "/reports", nil), admin)
	fmt.Println(allowed, err)
	// Output:
	// authz: unknown name reqest (1:41)
	//  | hasRole("admin") && principal.tenant == reqest.header("X-Tenant")
	//  | ........................................^
	// true <nil>
}

// apiKeys is a toy authenticator for the examples: the header X-Key names
// the caller.
type apiKeys map[string]*authz.Principal

func (k apiKeys) Authenticate(_ context.Context, h authz.Headers) (*authz.Principal, error) {
	key := h.Get("X-Key")
	if key == "" {
		return nil, authz.ErrNoCredentials
	}
	if p, ok := k[key]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: unknown key", authz.ErrUnauthenticated)
}

func (apiKeys) Challenge(error) string { return `ApiKey realm="example"` }

func ExampleNew() {
	instances := map[string]map[string]any{
		"i-1": {"compartment": "blue"},
		"i-2": {"compartment": "green"},
	}
	az, err := authz.New(
		authz.WithAuthenticator(apiKeys{
			"k-alice": {ID: "alice", Tenant: "blue", Roles: []string{"operator"}},
		}),
		authz.WithResolver("instance", func(_ context.Context, id string) (any, error) {
			if in, ok := instances[id]; ok {
				return in, nil
			}
			return nil, authz.ErrNotFound
		}),
		authz.WithRoute("POST /instances/{id}/terminate",
			authz.Allow("operators in the instance's compartment",
				`hasRole("operator") && resource("instance", request.pathValue("id")).compartment == principal.tenant`)),
		authz.WithPublic("GET /healthz"),
	)
	if err != nil {
		panic(err)
	}
	defer az.Close()

	mux := az.NewMux()
	mux.HandleFunc("POST /instances/{id}/terminate", func(w http.ResponseWriter, r *http.Request) {
		p, _ := authz.FromContext(r.Context())
		fmt.Fprintf(w, "%s terminated %s", p.ID, r.PathValue("id"))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	if err := mux.Check(); err != nil {
		panic(err) // a route without rules
	}

	for _, target := range []string{"/instances/i-1/terminate", "/instances/i-2/terminate"} {
		r := httptest.NewRequest("POST", target, nil)
		r.Header.Set("X-Key", "k-alice")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 alice terminated i-1
	// 403 {"type":"about:blank","title":"Forbidden","status":403,"detail":"authz: denied: no rule allowed"}
}

func ExampleAuthorizer_Middleware() {
	az, err := authz.New(
		authz.WithAuthenticator(apiKeys{"k-bob": {ID: "bob", Roles: []string{"viewer"}}}),
		authz.WithRoute("GET /reports", authz.Allow("viewers", `hasRole("viewer")`)),
		authz.WithRoute("DELETE /reports/{id}", authz.Allow("admins", `hasRole("admin")`)),
	)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "done") })
	// Inside the mux, on each route, the middleware sees r.Pattern.
	mux.Handle("GET /reports", az.Middleware(ok))
	mux.Handle("DELETE /reports/{id}", az.Middleware(ok))

	for _, c := range []struct{ method, target, key string }{
		{"GET", "/reports", "k-bob"},
		{"DELETE", "/reports/7", "k-bob"},
		{"GET", "/reports", ""},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.key != "" {
			r.Header.Set("X-Key", c.key)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(c.method, " ", c.target, " ", w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// GET /reports 200
	// DELETE /reports/7 403
	// GET /reports 401 ApiKey realm="example"
}

func ExampleResource() {
	az, err := authz.New(
		authz.WithAuthenticator(apiKeys{"k-carol": {ID: "carol", Tenant: "blue"}}),
		authz.WithResolver("instance", func(_ context.Context, id string) (any, error) {
			return map[string]any{"id": id, "compartment": "blue", "size": "large"}, nil
		}),
		authz.WithRoute("GET /instances/{id}",
			authz.Allow("same compartment", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)),
	)
	if err != nil {
		panic(err)
	}
	mux := az.NewMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The very instance the decision was about, not fetched again.
		in, ok := authz.Resource(r.Context(), "instance", r.PathValue("id"))
		if !ok {
			http.Error(w, "not checked", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, in.(map[string]any)["size"])
	})
	r := httptest.NewRequest("GET", "/instances/i-9", nil)
	r.Header.Set("X-Key", "k-carol")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 large
}

func ExampleDecision_Explain() {
	az, err := authz.New(
		authz.WithRoute("/shop.Orders/Refund",
			authz.Allow("support", `hasRole("support") && request.header("X-Ticket") != ""`),
			authz.Forbid("self-refund", `principal.id == request.header("X-Customer")`)),
		authz.WithHeaders("X-Ticket", "X-Customer"),
	)
	if err != nil {
		panic(err)
	}
	ctx := authz.WithPrincipal(context.Background(), &authz.Principal{ID: "dan", Roles: []string{"support"}})
	_, d, err := az.Authorize(ctx, &authz.Call{
		Operation: "/shop.Orders/Refund",
		Headers:   http.Header{"X-Customer": {"erin"}},
	})
	fmt.Println(errors.Is(err, authz.ErrDenied))
	fmt.Println(d.Explain())
	// Output:
	// true
	// deny "/shop.Orders/Refund": no rule allowed; rule "support" (allow) is false: clause 2 of 2 is false: request.header("X-Ticket") != ""
}
