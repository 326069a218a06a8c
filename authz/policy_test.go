package authz_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/authz"
)

func TestCompileErrors(t *testing.T) {
	opts := []authz.Option{authz.WithHeaders("X-Tenant"), authz.WithResolver("instance", resolveInstance)}
	tests := []struct {
		name       string
		expr       string
		line, col  int
		msgContain string
	}{
		{"unknown identifier", `principal.id == "a" && foo`, 1, 24, "unknown name foo"},
		{"unknown field", `principal.nme == "a"`, 1, 11, "nme"},
		{"wrong argument type", `hasRole(1)`, 1, 9, "cannot use int as argument"},
		{"wrong operand types", `principal.roles > 3`, 1, 17, "invalid operation"},
		{"not bool", `principal.id`, 1, 1, "expected bool"},
		{"any result", `request.body.admin`, 1, 1, "expected bool"},
		{"syntax", `hasRole("a" &&`, 1, 14, "unexpected"},
		{"second line", "hasRole(\"a\") &&\n  bar", 2, 3, "unknown name bar"},
		{"header outside allow-list", `request.header("Authorization") != ""`, 1, 16, "not in the allow-list"},
		{"resource kind without resolver", `resource("volume", "v1") != nil`, 1, 10, `no resolver for resource kind "volume"`},
		{"ctx is not a name", `ctx != nil`, 1, 1, "unknown name ctx"},
		{"env is not a name", `$env != nil`, 1, 1, "unknown name $env"},
		{"disabled builtin", `fromJSON("{}") != nil`, 1, 1, "fromJSON"},
		{"empty", `  `, 1, 1, "empty expression"},
		{"too many arguments", `hasScope("a", "b")`, 1, 1, "too many arguments"},
		{"disabled builtin in a method argument", `now.After(date("2020-01-01"))`, 1, 11, "unknown name date"},
		{"unknown name in a method argument", `now.After(later)`, 1, 11, "unknown name later"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authz.Compile(tc.expr, opts...)
			var ce *authz.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) = %v, want a *CompileError", tc.expr, err)
			}
			if !strings.Contains(ce.Message, tc.msgContain) {
				t.Errorf("message %q, want it to contain %q", ce.Message, tc.msgContain)
			}
			if ce.Line != tc.line || ce.Column != tc.col {
				t.Errorf("position %d:%d, want %d:%d (%v)", ce.Line, ce.Column, tc.line, tc.col, err)
			}
			if !strings.HasPrefix(err.Error(), "authz: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	opts := []authz.Option{authz.WithHeaders("X-Tenant"), authz.WithResolver("instance", resolveInstance)}
	for _, expr := range []string{
		`hasRole("admin")`,
		`hasScope("a") || hasPermission("b")`,
		`inTenant(request.header("x-tenant"))`,
		`principal.claims.level == 3`,
		`request.method == "GET" && request.path startsWith "/v1/"`,
		`request.query("dry") == "1"`,
		`now.Year() >= 2024`,
		`let ids = request.body.ids; len(ids) > 0 && all(ids, {let r = resource("instance", #); r.compartment == principal.tenant})`,
		`map(principal.roles, upper(#)) | any(# == "ADMIN")`,
		`all(request.body.instanceIds, {resource("instance", #).compartment == principal.tenant})`,
		`resource("instance", request.pathValue("id")).state != "terminated"`,
	} {
		if _, err := authz.Compile(expr, opts...); err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
		}
	}
}

func TestCompileMaxNodes(t *testing.T) {
	expr := strings.Repeat(`hasRole("a") || `, 50) + `hasRole("b")`
	if _, err := authz.Compile(expr, authz.WithMaxNodes(20)); err == nil {
		t.Fatal("an expression over WithMaxNodes compiled")
	}
	if _, err := authz.Compile(expr); err != nil {
		t.Fatalf("default limit: %v", err)
	}
}

func TestCompileOptionErrors(t *testing.T) {
	_, err := authz.Compile(`true`, authz.WithMaxNodes(0), authz.WithRoute("GET /", authz.Allow("a", "true")), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"WithMaxNodes", "WithRoute does not apply to Compile", "option 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestPolicyEval(t *testing.T) {
	p, err := authz.Compile(`hasRole("admin") && request.query("force") == "yes please" && request.body.n == 2`)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/x?force=yes+please", strings.NewReader(`{"n": 2}`))
	okv, err := p.Eval(r, users["alice"])
	if err != nil || !okv {
		t.Fatalf("Eval = %v, %v; want true", okv, err)
	}
	r = httptest.NewRequest("POST", "/x?force=yes+please", strings.NewReader(`{"n": 2}`))
	if okv, err := p.Eval(r, nil); err != nil || okv {
		t.Fatalf("anonymous Eval = %v, %v; want false", okv, err)
	}
}

// TestPrincipalCalls: an expression that is one principal function of a
// constant answers as the same call inside a larger expression, for
// callers with and without the role, scope or tenant, and anonymous ones.
func TestPrincipalCalls(t *testing.T) {
	callers := map[string]*authz.Principal{
		"alice": users["alice"], "bob": users["bob"], "anonymous": nil, "empty": {},
	}
	tests := []struct {
		name, expr string
		want       map[string]bool // callers for whom it holds
	}{
		{name: "hasRole", expr: `hasRole("admin")`, want: map[string]bool{"alice": true}},
		{name: "hasRole other", expr: `hasRole("viewer")`, want: map[string]bool{"bob": true}},
		{name: "hasRole empty", expr: `hasRole("")`},
		{name: "hasScope", expr: `hasScope("instances:read")`, want: map[string]bool{"alice": true}},
		{name: "hasPermission", expr: `hasPermission("instances:read")`, want: map[string]bool{"alice": true}},
		{name: "inTenant", expr: `inTenant("green")`, want: map[string]bool{"bob": true}},
		{name: "inTenant empty", expr: `inTenant("")`},
		{name: "spaces and parentheses", expr: ` ( hasRole( "admin" ) ) `, want: map[string]bool{"alice": true}},
	}
	r := httptest.NewRequest("GET", "/", nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alone, err := authz.Compile(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			inside, err := authz.Compile(`(` + tc.expr + `) == true`)
			if err != nil {
				t.Fatal(err)
			}
			for who, p := range callers {
				got, err := alone.Eval(r, p)
				if err != nil || got != tc.want[who] {
					t.Errorf("%s: %s = %v, %v; want %v", who, tc.expr, got, err, tc.want[who])
				}
				if vm, err := inside.Eval(r, p); err != nil || vm != got {
					t.Errorf("%s: inside an expression %v, %v; alone %v", who, vm, err, got)
				}
			}
		})
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`hasRole("admin")`, `all(request.body.ids, {resource("instance", #).x == 1})`,
		`principal.claims["a"].b > 2`, `let x = 1; x == 1`, `[1,2,3] | map(# * 2) | sum() > 3`,
		`request.header("X-Tenant") == principal.tenant`, `"a" matches "^(a+)+$"`, `1..1000000 | len() > 0`,
	} {
		f.Add(s)
	}
	opts := []authz.Option{authz.WithHeaders("X-Tenant"), authz.WithResolver("instance", resolveInstance)}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		start := time.Now()
		p, err := authz.Compile(s, opts...)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Compile took %v", d)
		}
		if err != nil {
			var ce *authz.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error %v is not a *CompileError", err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("String() = %q", p.String())
		}
	})
}

func FuzzBody(f *testing.F) {
	for _, s := range []string{`{"ids": [1, "a", {"b": [true, null]}]}`, `[[[[[[[[[[1]]]]]]]]]]`, `"\"[["`, `{"a": "\\"}`, ``, `{`, `1e999`, "{\"a\":\"\xff\"}"} {
		f.Add(s)
	}
	p, err := authz.Compile(`request.body == nil || request.body != nil`, authz.WithMaxBodyBytes(1024), authz.WithMaxBodyDepth(8))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		allowed, err := p.Eval(r, nil)
		switch {
		case err == nil && !allowed:
			t.Fatal("a body that parsed made the expression false")
		case err != nil && !errors.Is(err, authz.ErrBadBody) && !errors.Is(err, authz.ErrBodyTooLarge):
			t.Fatalf("error %v is neither ErrBadBody nor ErrBodyTooLarge", err)
		case len(body) > 1024 && !errors.Is(err, authz.ErrBodyTooLarge):
			t.Fatalf("a body of %d bytes: %v", len(body), err)
		}
	})
}

func TestMemoryBudget(t *testing.T) {
	p, err := authz.Compile(`len(map(1..100000, # * 2)) > 0`, authz.WithMemoryBudget(1000))
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := p.Eval(httptest.NewRequest("GET", "/", nil), nil)
	if allowed || err == nil || !strings.Contains(err.Error(), "memory budget exceeded") {
		t.Fatalf("Eval = %v, %v; want the memory budget exceeded", allowed, err)
	}
}

type ctxKey struct{}

func TestResolverSeesRequestContext(t *testing.T) {
	p, err := authz.Compile(`resource("tenant", "t").name == "from-context"`,
		authz.WithResolver("tenant", func(ctx context.Context, id string) (any, error) {
			v, _ := ctx.Value(ctxKey{}).(string)
			return map[string]any{"name": v}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "from-context"))
	if allowed, err := p.Eval(r, nil); !allowed || err != nil {
		t.Fatalf("Eval = %v, %v", allowed, err)
	}
}

func TestNow(t *testing.T) {
	p, err := authz.Compile(`now.Year() > 2020 && now.Before(now.Add(duration("1h")))`)
	if err != nil {
		t.Fatal(err)
	}
	if allowed, err := p.Eval(httptest.NewRequest("GET", "/", nil), nil); !allowed || err != nil {
		t.Fatalf("Eval = %v, %v", allowed, err)
	}
}
