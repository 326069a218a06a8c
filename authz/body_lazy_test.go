package authz_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/authz"
)

// TestBodyReadOnlyWhenARuleNeedsIt: the body is read and parsed when the
// first rule that reads it runs, so a request an earlier rule allows is
// never refused for its body, and the handler gets the body untouched.
func TestBodyReadOnlyWhenARuleNeedsIt(t *testing.T) {
	az := newAuthorizer(t, authz.WithRoute("POST /launch",
		authz.Allow("admins", `hasRole("admin")`),
		authz.Allow("own tenant", `request.body.tenant == principal.tenant`)))
	mux := az.NewMux()
	mux.Handle("POST /launch", ok)
	tests := []struct {
		name, user, body string
		want             int
		wantBody         string
	}{
		{"admin, bad JSON: decided before the body", "alice", `{"tenant":`, 200, `alice|{"tenant":`},
		{"admin, oversize body: never read", "alice", `{"x":"` + strings.Repeat("a", 2<<20) + `"}`, 200, ""},
		{"viewer, bad JSON", "bob", `{"tenant":`, 400, ""},
		{"viewer, own tenant", "bob", `{"tenant":"green"}`, 200, `bob|{"tenant":"green"}`},
		{"viewer, other tenant", "bob", `{"tenant":"blue"}`, 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, mux, http.MethodPost, "/launch", tc.user, tc.body)
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if tc.wantBody != "" && res.body != tc.wantBody {
				t.Fatalf("handler saw %q, want %q", res.body, tc.wantBody)
			}
		})
	}
}
