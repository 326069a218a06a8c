package authz_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/otelx"
)

func TestUnauthenticated(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	az := newAuthorizer(t, authz.WithRoute("GET /x", authz.Allow("all", "true")), authz.WithLogger(logger))
	mux := az.NewMux()
	mux.Handle("GET /x", ok)

	res := do(t, mux, "GET", "/x", "", "")
	if res.status != 401 || res.header.Get("WWW-Authenticate") != `Test realm="test"` {
		t.Fatalf("no credentials: %d, WWW-Authenticate %q", res.status, res.header.Get("WWW-Authenticate"))
	}
	if p := decodeProblem(t, res); p.Status != 401 {
		t.Fatalf("problem %+v", p)
	}
	res = do(t, mux, "GET", "/x", "mallory-secret", "")
	if res.status != 401 || res.header.Get("WWW-Authenticate") != `Test realm="test", error="invalid_user"` {
		t.Fatalf("bad credentials: %d, WWW-Authenticate %q", res.status, res.header.Get("WWW-Authenticate"))
	}
	if !strings.Contains(logs.String(), "unknown test user") {
		t.Errorf("the reason is not logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), "mallory-secret") || strings.Contains(res.body, "mallory-secret") {
		t.Errorf("the credential leaked: logs %q, body %q", logs.String(), res.body)
	}
}

func TestDenyError(t *testing.T) {
	var got error
	az := newAuthorizer(t,
		authz.WithRoute("GET /x", authz.Allow("admins", `hasRole("admin")`), authz.Forbid("weekend", `principal.id == "bob"`)),
		authz.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}))
	mux := az.NewMux()
	mux.Handle("GET /x", ok)
	if res := do(t, mux, "GET", "/x", "bob", ""); res.status != http.StatusTeapot {
		t.Fatalf("status %d: the error handler did not run", res.status)
	}
	de, isDeny := errors.AsType[*authz.DenyError](got)
	if !isDeny || !errors.Is(got, authz.ErrDenied) {
		t.Fatalf("error %v is not a *DenyError", got)
	}
	if de.Rule != "weekend" || de.Operation != "GET /x" || de.Reason != `forbidden by rule "weekend"` {
		t.Fatalf("DenyError %+v", de)
	}
	if strings.Contains(de.Error(), "principal.id") {
		t.Fatalf("message %q leaks the rule", de.Error())
	}
}

// TestPrincipalRules: a route whose rules are all principal functions of
// constants (decided without an evaluation) decides, explains and answers
// exactly as the same rules written so that they run as programs, for
// every caller, anonymous ones included, and in dry run.
func TestPrincipalRules(t *testing.T) {
	const op = "/svc.Instances/Stop"
	rules := func(wrap func(string) string) authz.Option {
		return authz.WithRoute(op,
			authz.Forbid("green", wrap(`inTenant("green")`)),
			authz.Allow("admins", wrap(`hasRole("admin")`)),
			authz.Allow("writers", wrap(`hasPermission("instances:write")`)))
	}
	direct := func(s string) string { return s }
	program := func(s string) string { return "(" + s + ") == true" }
	for _, dry := range []bool{false, true} {
		for _, who := range []string{"alice", "bob", "carol", ""} {
			t.Run(fmt.Sprintf("dry run %v, caller %q", dry, who), func(t *testing.T) {
				h := http.Header{}
				if who != "" {
					h.Set("X-Test-User", who)
				}
				var got [2]string
				for i, wrap := range []func(string) string{direct, program} {
					az := newAuthorizer(t, rules(wrap), authz.WithAuthentication(authz.Optional, op), authz.WithDryRun(dry),
						authz.WithLogger(slog.New(slog.DiscardHandler)))
					ctx, d, err := az.Authorize(context.Background(), &authz.Call{Operation: op, Headers: h})
					p, _ := authz.FromContext(ctx)
					got[i] = fmt.Sprintf("%v|%q|%q|%v|%q|%v", d.Allowed, d.Rule, d.Reason, d.Errors, d.Explain(), err)
					if err == nil && p != users[who] {
						t.Errorf("principal in context %v, want %v", p, users[who])
					}
				}
				if got[0] != got[1] {
					t.Errorf("decided as\n%s\nwant, as programs,\n%s", got[0], got[1])
				}
			})
		}
	}
}

func TestDecisionExplain(t *testing.T) {
	az := newAuthorizer(t,
		authz.WithResolver("instance", resolveInstance),
		authz.WithRoute("/svc.Instances/Terminate",
			authz.Allow("owner", `hasScope("instances:write") && resource("instance", "i-3").compartment == principal.tenant`),
			authz.Allow("admins", `hasRole("admin") || hasRole("root")`),
			authz.Allow("broken", `resource("instance", "broken") != nil`)))
	h := http.Header{"X-Test-User": {"carol"}}
	_, d, err := az.Authorize(context.Background(), &authz.Call{Operation: "/svc.Instances/Terminate", Headers: h})
	if !errors.Is(err, authz.ErrDenied) || d.Allowed {
		t.Fatalf("Authorize = %+v, %v; want a denial", d, err)
	}
	if d.Rule != "" || d.Reason != "no rule allowed" || len(d.Errors) != 1 || d.Errors[0].Rule != "broken" {
		t.Fatalf("decision %+v", d)
	}
	got := d.Explain()
	for _, want := range []string{
		`deny "/svc.Instances/Terminate": no rule allowed`,
		`rule "broken": resource "instance" "broken": db down`,
		`rule "owner" (allow) is false: clause 2 of 2 is false: resource("instance", "i-3").compartment == principal.tenant`,
		`rule "admins" (allow) is false: all 2 clauses are false`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() = %q\nlacks %q", got, want)
		}
	}
	ctx, d, err := az.Authorize(context.Background(), &authz.Call{Operation: "/svc.Instances/Terminate", Headers: http.Header{"X-Test-User": {"alice"}}})
	if err != nil || !d.Allowed || d.Rule != "admins" || d.Explain() != `allow "/svc.Instances/Terminate": allowed by rule "admins"` {
		t.Fatalf("allowed: %+v, %v, %q", d, err, d.Explain())
	}
	if p, _ := authz.FromContext(ctx); p != users["alice"] {
		t.Fatalf("principal in context = %v", p)
	}
}

func TestResourceHandedToHandler(t *testing.T) {
	var calls atomic.Int64
	az := newAuthorizer(t,
		authz.WithResolver("instance", func(ctx context.Context, id string) (any, error) {
			calls.Add(1)
			return resolveInstance(ctx, id)
		}),
		authz.WithRoute("GET /instances/{id}", authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant && resource("instance", request.pathValue("id")).state == "running"`)))
	mux := az.NewMux()
	var got any
	var found bool
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		got, found = authz.Resource(r.Context(), "instance", r.PathValue("id"))
		_, other := authz.Resource(r.Context(), "instance", "i-2")
		if other {
			t.Error("a resource that was not looked up was found")
		}
	})
	if res := do(t, mux, "GET", "/instances/i-1", "alice", ""); res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if !found || got.(map[string]any)["state"] != "running" {
		t.Fatalf("Resource = %v, %v", got, found)
	}
	if calls.Load() != 1 {
		t.Fatalf("resolver called %d times, want 1 (memo)", calls.Load())
	}
	if _, found := authz.Resource(context.Background(), "instance", "i-1"); found {
		t.Fatal("Resource found something in a bare context")
	}
}

func TestResolverCacheAndBreaker(t *testing.T) {
	var calls atomic.Int64
	az := newAuthorizer(t,
		authz.WithResolver("instance", func(ctx context.Context, id string) (any, error) {
			calls.Add(1)
			return resolveInstance(ctx, id)
		}),
		authz.WithResolverCache(time.Hour),
		authz.WithLogger(slog.New(slog.DiscardHandler)),
		authz.WithRoute("GET /instances/{id}", authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)))
	mux := az.NewMux()
	mux.Handle("GET /instances/{id}", ok)
	for range 3 {
		if res := do(t, mux, "GET", "/instances/i-1", "alice", ""); res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("resolver called %d times for 3 requests with a cache, want 1", calls.Load())
	}
	calls.Store(0)
	for range 30 {
		if res := do(t, mux, "GET", "/instances/broken", "alice", ""); res.status != 403 {
			t.Fatalf("status %d", res.status)
		}
	}
	if n := calls.Load(); n >= 20 {
		t.Fatalf("resolver called %d times for 30 failing requests, want the breaker to open", n)
	}
}

func TestNewReportsEveryError(t *testing.T) {
	_, err := authz.New(
		authz.WithRoute("GET /a", authz.Allow("one", `unknown1`), authz.Allow("two", `true`)),
		authz.WithRoute("GET /b/{id}", authz.Allow("three", `request.pathValue("name") == ""`)),
		authz.WithRoute("GET /c", authz.Allow("", `true`), authz.Rule{Name: "bad", Expression: "true"}),
		authz.WithDefault(authz.Forbid("four", `1`)),
		authz.WithAuthentication(authz.Optional, "GET /unknown"),
	)
	if err == nil {
		t.Fatal("New accepted bad rules")
	}
	for _, want := range []string{
		`route "GET /a" rule "one": unknown name unknown1 (1:1)`,
		`route "GET /b/{id}" rule "three": pattern "GET /b/{id}" has no wildcard {name}`,
		`route "GET /c": a rule has no name`,
		`rule "bad": unknown effect`,
		`rule "four": expected bool`,
		`WithAuthentication "GET /unknown" has no rules`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var ce *authz.CompileError
	if !errors.As(err, &ce) || ce.Operation != "" || ce.Rule != "four" {
		t.Errorf("first CompileError = %+v", ce)
	}
}

func TestCheckAndMux(t *testing.T) {
	az := newAuthorizer(t,
		authz.WithRoute("GET /a", authz.Allow("all", "true")),
		authz.WithRoute("GET /gone", authz.Allow("all", "true")),
		authz.WithPublic("GET /healthz"))
	mux := az.NewMux()
	mux.Handle("GET /a", ok)
	mux.Handle("GET /healthz", ok)
	mux.Handle("POST /b", ok)
	err := mux.Check()
	if err == nil {
		t.Fatal("Check accepted a route without rules")
	}
	for _, want := range []string{`route "POST /b" has no rule`, `route "GET /gone" has rules or is public but is not served`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %q:\n%v", want, err)
		}
	}
	if err := az.Check("GET /a", "GET /gone", "GET /healthz"); err != nil {
		t.Fatalf("Check of matching routes: %v", err)
	}
	// The public route needs no credentials; the unruled one is denied.
	if res := do(t, mux, "GET", "/healthz", "", ""); res.status != 200 {
		t.Fatalf("public route: %d", res.status)
	}
	if res := do(t, mux, "POST", "/b", "alice", ""); res.status != 403 {
		t.Fatalf("route without rules: %d, want 403", res.status)
	}
}

func TestOutsideTheMux(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	az := newAuthorizer(t, authz.WithLogger(logger),
		authz.WithRoute("GET /a", authz.Allow("never", "false")),
		authz.WithDefault(authz.Allow("admins", `hasRole("admin")`)))
	mux := http.NewServeMux()
	mux.Handle("GET /a", ok)
	h := az.Middleware(mux)
	if res := do(t, h, "GET", "/a", "alice", ""); res.status != 200 {
		t.Fatalf("default rule: %d, want 200", res.status)
	}
	if res := do(t, h, "GET", "/a", "bob", ""); res.status != 403 {
		t.Fatalf("default rule: %d, want 403", res.status)
	}
	if n := strings.Count(logs.String(), "without a ServeMux pattern"); n != 1 {
		t.Fatalf("%d warnings, want 1: %q", n, logs.String())
	}
}

func TestPrincipalFromOuterMiddleware(t *testing.T) {
	az, err := authz.New(authz.WithRoute("GET /a", authz.Allow("admins", `hasRole("admin")`)))
	if err != nil {
		t.Fatal(err)
	}
	mux := az.NewMux()
	mux.Handle("GET /a", ok)
	r := httptest.NewRequest("GET", "/a", nil)
	r = r.WithContext(authz.WithPrincipal(r.Context(), users["alice"]))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "alice|" {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestDryRunMetricsAndSpans(t *testing.T) {
	// In a bubble, where time stands still unless the test sleeps.
	synctest.Test(t, testDryRunMetricsAndSpans)
}

func testDryRunMetricsAndSpans(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, dry := range []bool{false, true} {
		az := newAuthorizer(t, authz.WithDryRun(dry), authz.WithMeterProvider(mp), authz.WithLogger(logger),
			authz.WithResolver("instance", resolveInstance),
			authz.WithRoute("GET /a", authz.Allow("admins", `hasRole("admin")`), authz.Allow("owner", `resource("instance", "broken") != nil`)))
		mux := az.NewMux()
		mux.Handle("GET /a", ok)
		for _, user := range []string{"alice", "bob", "carol"} {
			ctx, span := tp.Tracer("test").Start(context.Background(), "request")
			r := httptest.NewRequestWithContext(ctx, "GET", "/a", nil)
			r.Header.Set("X-Test-User", user)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			span.End()
			want := 403
			if user == "alice" || dry {
				want = 200
			}
			if w.Code != want {
				t.Fatalf("dry run %v, %s: %d, want %d", dry, user, w.Code, want)
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.authz.decisions" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				pol, _ := dp.Attributes.Value(otelx.AttrAuthzPolicy)
				dec, _ := dp.Attributes.Value("decision")
				got[pol.AsString()+"/"+dec.AsString()] += dp.Value
			}
		}
	}
	// Per run: alice allowed by admins; bob and carol: the owner rule
	// fails, so nothing allows: an error decision.
	if got["admins/allow"] != 2 || got["none/error"] != 4 || len(got) != 2 {
		t.Fatalf("decisions = %v", got)
	}
	var events int
	for _, s := range spans.Ended() {
		for _, e := range s.Events() {
			if e.Name == otelx.EventAuthzDenied {
				events++
				if !slices.Contains(e.Attributes, attribute.String(otelx.AttrAuthzPolicy, "none")) {
					t.Errorf("event attributes %v", e.Attributes)
				}
			}
		}
	}
	if events != 4 {
		t.Fatalf("%d %s events, want 4", events, otelx.EventAuthzDenied)
	}
	// Two would-be denials within a second: one line; the next, a second
	// later, says it left one out.
	if n := strings.Count(logs.String(), "would deny (dry run)"); n != 1 {
		t.Fatalf("%d dry-run lines, want 1: %q", n, logs.String())
	}
	time.Sleep(time.Second)
	az := newAuthorizer(t, authz.WithDryRun(true), authz.WithLogger(logger), authz.WithRoute("GET /a", authz.Allow("never", "false")))
	mux := az.NewMux()
	mux.Handle("GET /a", ok)
	do(t, mux, "GET", "/a", "bob", "")
	do(t, mux, "GET", "/a", "bob", "")
	time.Sleep(time.Second)
	do(t, mux, "GET", "/a", "bob", "")
	if n := strings.Count(logs.String(), "would deny (dry run)"); n != 3 || !strings.Contains(logs.String(), "suppressed=1") {
		t.Fatalf("logs %q, want 3 lines, the last with suppressed=1", logs.String())
	}
}

func TestCallInfo(t *testing.T) {
	az := newAuthorizer(t, authz.WithResolver("instance", resolveInstance),
		authz.WithRoute("GET /instances/{id}", authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)))
	mux := az.NewMux()
	mux.Handle("GET /instances/{id}", ok)
	for _, tc := range []struct {
		user, path string
		want       callinfo.Info
	}{
		{"alice", "/instances/i-1", callinfo.Info{Operation: "GET /instances/{id}", PrincipalID: "alice", PrincipalType: "user", PrincipalTenant: "blue",
			Decision: "allow", Rule: "owner", Reason: `allowed by rule "owner"`, Resources: []callinfo.Resource{{Kind: "instance", ID: "i-1"}}}},
		{"bob", "/instances/i-1", callinfo.Info{Operation: "GET /instances/{id}", PrincipalID: "bob", PrincipalType: "user", PrincipalTenant: "green",
			Decision: "deny", Reason: "no rule allowed", Resources: []callinfo.Resource{{Kind: "instance", ID: "i-1"}}}},
		{"", "/instances/i-1", callinfo.Info{Operation: "GET /instances/{id}", Decision: "deny", Reason: "unauthenticated"}},
	} {
		var info callinfo.Info
		r := httptest.NewRequest("GET", tc.path, nil)
		r = r.WithContext(callinfo.With(r.Context(), &info))
		if tc.user != "" {
			r.Header.Set("X-Test-User", tc.user)
		}
		mux.ServeHTTP(httptest.NewRecorder(), r)
		if info.Operation != tc.want.Operation || info.PrincipalID != tc.want.PrincipalID || info.PrincipalType != tc.want.PrincipalType ||
			info.PrincipalTenant != tc.want.PrincipalTenant || info.Decision != tc.want.Decision || info.Rule != tc.want.Rule ||
			info.Reason != tc.want.Reason || !slices.Equal(info.Resources, tc.want.Resources) {
			t.Errorf("%s: info = %+v, want %+v", tc.user, info, tc.want)
		}
	}
}

func TestNilAuthorizerDenies(t *testing.T) {
	var az *authz.Authorizer
	if res := do(t, az.Middleware(ok), "GET", "/", "alice", ""); res.status != 403 {
		t.Fatalf("status %d", res.status)
	}
}

// TestConcurrentDecisions runs decisions in parallel, so pooled
// evaluations are reused across goroutines (and checked by -race): each
// request sees its own principal, path values and resources.
func TestConcurrentDecisions(t *testing.T) {
	az := newAuthorizer(t, authz.WithResolver("instance", resolveInstance),
		authz.WithRoute("GET /instances/{id}", authz.Allow("owner", `resource("instance", request.pathValue("id")).compartment == principal.tenant`)))
	mux := az.NewMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		in, found := authz.Resource(r.Context(), "instance", r.PathValue("id"))
		p, _ := authz.FromContext(r.Context())
		if !found || in.(map[string]any)["compartment"] != p.Tenant {
			t.Errorf("handler of %s by %s got %v", r.PathValue("id"), p.ID, in)
		}
	})
	cases := []struct {
		user, id string
		status   int
	}{{"alice", "i-1", 200}, {"bob", "i-3", 200}, {"alice", "i-3", 403}, {"bob", "i-1", 403}, {"carol", "i-2", 200}}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				c := cases[(g+i)%len(cases)]
				if res := do(t, mux, "GET", "/instances/"+c.id, c.user, ""); res.status != c.status {
					t.Errorf("%s %s: %d, want %d", c.user, c.id, res.status, c.status)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

// fakeBearer is a second test authenticator, for the header Authorization.
type fakeBearer struct{}

func (fakeBearer) Authenticate(_ context.Context, h authz.Headers) (*authz.Principal, error) {
	switch h.Get("Authorization") {
	case "":
		return nil, authz.ErrNoCredentials
	case "Bearer good":
		return &authz.Principal{ID: "token-user", Roles: []string{"admin"}}, nil
	}
	return nil, errors.Join(authz.ErrUnauthenticated, errors.New("bad token"))
}

func (fakeBearer) Challenge(err error) string {
	if errors.Is(err, authz.ErrNoCredentials) {
		return `Bearer realm="api"`
	}
	return `Bearer realm="api", error="invalid_token"`
}

func TestSeveralAuthenticators(t *testing.T) {
	for _, dry := range []bool{false, true} {
		az := newAuthorizer(t, authz.WithAuthenticator(fakeBearer{}), authz.WithDryRun(dry),
			authz.WithLogger(slog.New(slog.DiscardHandler)),
			authz.WithRoute("GET /x", authz.Allow("admins", `hasRole("admin")`)))
		mux := az.NewMux()
		mux.Handle("GET /x", ok)
		for _, tc := range []struct {
			name, user, auth string
			status           int
			challenges       []string
			body             string
		}{
			{"first authenticator", "alice", "", 200, nil, "alice|"},
			{"second authenticator", "", "Bearer good", 200, nil, "token-user|"},
			{"first that finds a credential decides", "mallory", "Bearer good", 401, []string{`Test realm="test", error="invalid_user"`}, ""},
			{"second's bad credential", "", "Bearer bad", 401, []string{`Bearer realm="api", error="invalid_token"`}, ""},
			{"none: every challenge", "", "", 401, []string{`Test realm="test"`, `Bearer realm="api"`}, ""},
		} {
			r := httptest.NewRequest("GET", "/x", nil)
			if tc.user != "" {
				r.Header.Set("X-Test-User", tc.user)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			status, challenges, body := tc.status, tc.challenges, tc.body
			if dry && status == 401 {
				// Dry run lets the request through, anonymous.
				status, challenges, body = 200, nil, "|"
			}
			if w.Code != status || !slices.Equal(w.Header().Values("WWW-Authenticate"), challenges) || (body != "" && w.Body.String() != body) {
				t.Errorf("dry run %v, %s: %d %q %q, want %d %q %q", dry, tc.name, w.Code, w.Header().Values("WWW-Authenticate"), w.Body.String(), status, challenges, body)
			}
		}
	}
}

// TestUnauthenticatedWithoutChallengeIs403: a 401 must carry a
// WWW-Authenticate challenge (RFC 9110 section 15.5.2). An Authorizer
// with no authenticator (principals come from an outer layer) has none to
// send, so a request without a principal is refused with 403.
func TestUnauthenticatedWithoutChallengeIs403(t *testing.T) {
	az, err := authz.New(authz.WithRoute("GET /a", authz.Allow("admins", `hasRole("admin")`)))
	if err != nil {
		t.Fatal(err)
	}
	mux := az.NewMux()
	mux.Handle("GET /a", ok)
	res := do(t, mux, "GET", "/a", "", "")
	if res.status != http.StatusForbidden || res.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, WWW-Authenticate %q; want 403 without a challenge", res.status, res.header.Get("WWW-Authenticate"))
	}
	// With an authenticator the same request is 401 with its challenge.
	withAuth := newAuthorizer(t, authz.WithRoute("GET /a", authz.Allow("admins", `hasRole("admin")`)))
	m2 := withAuth.NewMux()
	m2.Handle("GET /a", ok)
	res = do(t, m2, "GET", "/a", "", "")
	if res.status != http.StatusUnauthorized || res.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("status %d, WWW-Authenticate %q; want 401 with a challenge", res.status, res.header.Get("WWW-Authenticate"))
	}
}
