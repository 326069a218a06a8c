package platform_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/ratelimit"
	"golang.org/x/time/rate"
)

// serve sends a request to h and returns the recorder.
func serve(h http.Handler, method, path, key, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustLoad(t *testing.T, spec []byte, opts ...platform.Option) *platform.Platform {
	t.Helper()
	opts = append([]platform.Option{platform.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	p, err := platform.Load(spec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func TestRoutes(t *testing.T) {
	spec := doc("  authentication: {mode: none}\n",
		op("/", "get", "root", "")+
			op("/items/", "get", "list", "")+
			"  /items/{id}:\n    parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n"+
			"    get:\n      operationId: get\n      responses: {\"200\": {description: ok}}\n"+
			"    delete:\n      operationId: del\n      responses: {\"200\": {description: ok}}\n"+
			op("/items/{id}/parts/{part}", "put", "part", ""))
	p := mustLoad(t, spec, loadOpts(t, "root", "list", "get", "del", "part")...)
	var got []string
	for _, r := range p.Routes() {
		got = append(got, r.ID+"="+r.Pattern)
	}
	want := []string{"root=GET /{$}", "list=GET /items/{$}", "get=GET /items/{id}", "del=DELETE /items/{id}", "part=PUT /items/{id}/parts/{part}"}
	if !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	// "/items/" is that path only, not a subtree, as OpenAPI means it.
	if rec := serve(p.Handler(), "GET", "/items/x/y", "", ""); rec.Code != 404 {
		t.Errorf("GET /items/x/y: %d, want 404", rec.Code)
	}
	if rec := serve(p.Handler(), "GET", "/items/", "", ""); rec.Code != 200 {
		t.Errorf("GET /items/: %d, want 200", rec.Code)
	}
}

func TestConflictingTemplates(t *testing.T) {
	spec := doc("  authentication: {mode: none}\n", op("/a/{x}/b", "get", "one", "")+op("/a/b/{y}", "get", "two", ""))
	_, err := platform.Load(spec, loadOpts(t, "one", "two")...)
	var le *platform.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v", err)
	}
	want := `/paths/~1a~1{x}~1b: http.ServeMux cannot serve "GET /a/{x}/b" next to "GET /a/b/{y}" of /paths/~1a~1b~1{y}: GET /a/{x}/b and GET /a/b/{y} both match some paths, like "/a/b/b".`
	if len(le.Problems) != 1 || le.Problems[0].String() != want {
		t.Errorf("problems %v\nwant %s", le.Problems, want)
	}
}

func TestMerge(t *testing.T) {
	// The path item overrides the root, the operation the path item;
	// objects merge by key and null removes.
	spec := doc("  authentication: {mode: none}\n  rateLimit: {rate: 1/h, key: ip, policy: shared}\n",
		"  /a:\n    x-platform:\n      rateLimit: {policy: a}\n"+
			"    get:\n      operationId: a\n      responses: {\"200\": {description: ok}}\n"+
			"    post:\n      operationId: a2\n      responses: {\"200\": {description: ok}}\n      x-platform:\n        rateLimit: null\n"+
			op("/b", "get", "b", ""))
	p := mustLoad(t, spec, loadOpts(t, "a", "a2", "b")...)
	h := p.Handler()
	if rec := serve(h, "GET", "/a", "", ""); rec.Code != 200 || !strings.Contains(rec.Header().Get("RateLimit-Policy"), `"a"`) {
		t.Fatalf("GET /a: %d %v", rec.Code, rec.Header())
	}
	if rec := serve(h, "GET", "/a", "", ""); rec.Code != 429 {
		t.Errorf("second GET /a: %d, want 429", rec.Code)
	}
	for range 3 {
		if rec := serve(h, "POST", "/a", "", ""); rec.Code != 200 || rec.Header().Get("RateLimit-Policy") != "" {
			t.Fatalf("POST /a: %d %v", rec.Code, rec.Header())
		}
	}
	// b has the root's policy, a bucket of its own.
	if rec := serve(h, "GET", "/b", "", ""); rec.Code != 200 || !strings.Contains(rec.Header().Get("RateLimit-Policy"), `"shared"`) {
		t.Errorf("GET /b: %d %v", rec.Code, rec.Header())
	}
}

func TestResourcesByID(t *testing.T) {
	// The single-id form, a struct resource with an expr tag, permissions
	// from WithPermissions, and the Grant handed to the handler.
	type volume struct {
		Owner string `expr:"owner"`
		Size  int
	}
	volumes := map[string]*volume{"v-1": {Owner: "c1", Size: 10}, "v-2": {Owner: "c2", Size: 20}}
	spec := doc("", op("/volumes/{id}", "delete", "deleteVolume",
		"        authorization:\n"+
			"          check: resources[\"Volume\"][0].resource.Size < 15\n"+
			"          resources:\n"+
			"            - name: Volume\n"+
			"              id: request.pathValue(\"id\")\n"+
			"              resolver: volume\n"+
			"              compartmentField: owner\n"+
			"              permissions: [volume.delete]\n"))
	var granted *platform.Grant
	p := mustLoad(t, spec,
		platform.WithAuthenticator("apiKey", apiKeys(t)),
		platform.WithResolver("volume", func(_ context.Context, id string) (any, error) {
			if v, ok := volumes[id]; ok {
				return v, nil
			}
			return nil, nil
		}),
		platform.WithPermissions(func(_ context.Context, p *authz.Principal, compartment string) ([]string, error) {
			if p != nil && p.ID == "bob" {
				return []string{"volume.delete"}, nil // an operator of every compartment
			}
			return nil, nil
		}),
		platform.WithHandler("deleteVolume", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, _ := authz.Resource(r.Context(), "Volume", r.PathValue("id"))
			granted, _ = v.(*platform.Grant)
			w.WriteHeader(http.StatusNoContent)
		})),
	)
	h := p.Handler()
	if rec := serve(h, "DELETE", "/volumes/v-1", aliceKey, ""); rec.Code != 403 {
		t.Errorf("alice: %d, want 403 (no permission)", rec.Code)
	}
	if rec := serve(h, "DELETE", "/volumes/v-2", bobKey, ""); rec.Code != 403 {
		t.Errorf("bob, v-2: %d, want 403 (the check: too large)", rec.Code)
	}
	if rec := serve(h, "DELETE", "/volumes/v-9", bobKey, ""); rec.Code != 403 {
		t.Errorf("bob, v-9: %d, want 403 (not found)", rec.Code)
	}
	if rec := serve(h, "DELETE", "/volumes/v-1", bobKey, ""); rec.Code != 204 {
		t.Fatalf("bob, v-1: %d, want 204: %s", rec.Code, rec.Body)
	}
	if granted == nil || granted.ID != "v-1" || granted.Compartment != "c1" || !slices.Equal(granted.Permissions, []string{"volume.delete"}) || granted.Resource != volumes["v-1"] {
		t.Errorf("grant %+v", granted)
	}
}

func TestRateLimitByPrincipal(t *testing.T) {
	spec := doc("", op("/a", "get", "a", allow+"        rateLimit: {rate: 1/h, key: principal}\n"))
	p := mustLoad(t, spec, loadOpts(t, "a")...)
	h := p.Handler()
	if rec := serve(h, "GET", "/a", aliceKey, ""); rec.Code != 200 {
		t.Fatalf("alice: %d", rec.Code)
	}
	if rec := serve(h, "GET", "/a", aliceKey, ""); rec.Code != 429 {
		t.Errorf("alice again: %d, want 429", rec.Code)
	}
	if rec := serve(h, "GET", "/a", bobKey, ""); rec.Code != 200 {
		t.Errorf("bob: %d, want 200", rec.Code)
	}
	// Authentication comes first: a caller without a key is not counted.
	if rec := serve(h, "GET", "/a", "", ""); rec.Code != 401 {
		t.Errorf("anonymous: %d, want 401", rec.Code)
	}
}

func TestOptionalAuthentication(t *testing.T) {
	spec := doc("", op("/a", "get", "a", "        authentication: {mode: optional}\n        authorization:\n          check: principal.id in [\"\", \"alice\"]\n"))
	p := mustLoad(t, spec, loadOpts(t, "a")...)
	h := p.Handler()
	for _, c := range []struct {
		key  string
		want int
	}{{"", 200}, {aliceKey, 200}, {bobKey, 403}, {"bad-key-0123456789abcdef0123456789ab", 401}} {
		if rec := serve(h, "GET", "/a", c.key, ""); rec.Code != c.want {
			t.Errorf("key %q: %d, want %d", c.key, rec.Code, c.want)
		}
	}
}

func TestVary(t *testing.T) {
	calls := 0
	spec := doc("  authentication: {mode: none}\n", op("/a", "get", "a", "        cache: {ttl: 1m, vary: [X-Tenant]}\n"))
	p := mustLoad(t, spec, platform.WithHandler("a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		io.WriteString(w, r.Header.Get("X-Tenant"))
	})))
	h := p.Handler()
	for _, tenant := range []string{"t1", "t2", "t1", "t2"} {
		req := httptest.NewRequest("GET", "/a", nil)
		req.Header.Set("X-Tenant", tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.String() != tenant {
			t.Errorf("tenant %s got %q", tenant, rec.Body)
		}
	}
	if calls != 2 {
		t.Errorf("%d handler calls, want 2", calls)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer up.Close()
	spec := doc("  authentication: {mode: none}\n", op("/slow", "get", "slow",
		"        timeout: 50ms\n        upstream:\n          url: "+up.URL+"\n          retry: {attempts: 1}\n"))
	p := mustLoad(t, spec)
	rec := serve(p.Handler(), "GET", "/slow", "", "")
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504: %s", rec.Code, rec.Body)
	}
}

func TestUpstreamPath(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer up.Close()
	spec := doc("  authentication: {mode: none}\n  upstream: {url: \""+up.URL+"/v1\"}\n", op("/items/{id}", "get", "item", ""))
	p := mustLoad(t, spec)
	rec := serve(p.Handler(), "GET", "/items/7?full=1", "", "")
	if rec.Code != 200 || rec.Body.String() != "/v1/items/7?full=1" {
		t.Errorf("status %d: %q", rec.Code, rec.Body)
	}
}

func TestRequestValidation(t *testing.T) {
	spec := doc("  authentication: {mode: none}\n",
		"  /items:\n    get:\n      operationId: list\n"+
			"      parameters:\n        - {name: limit, in: query, schema: {type: integer, maximum: 100}}\n"+
			"      responses: {\"200\": {description: ok}}\n")
	p := mustLoad(t, spec, platform.WithRequestValidation(), platform.WithHandler("list", okHandler))
	h := p.Handler()
	if rec := serve(h, "GET", "/items?limit=10", "", ""); rec.Code != 200 {
		t.Errorf("limit=10: %d", rec.Code)
	}
	rec := serve(h, "GET", "/items?limit=500", "", "")
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(rec.Body.String(), `"detail":"query parameter \"limit\": number must be at most 100"`) ||
		!strings.Contains(rec.Body.String(), `"field":"limit"`) {
		t.Errorf("limit=500: %d %s", rec.Code, rec.Body)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.yaml")
	if err := os.WriteFile(path, doc("  authentication: {mode: none}\n", op("/a", "get", "a", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := platform.LoadFile(path, platform.WithHandler("a", okHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	if p.Document().Info.Title != "t" {
		t.Error("document not kept")
	}
	if _, err := platform.LoadFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "platform: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestOptionProblems(t *testing.T) {
	spec := doc("  authentication: {mode: none}\n", op("/a", "get", "a", ""))
	_, err := platform.Load(spec, nil,
		platform.WithHandler("a", okHandler), platform.WithHandler("a", okHandler),
		platform.WithHandler("b", nil),
		platform.WithResolver("", nil),
		platform.WithSection("cache", platform.SectionFunc(stampSection)))
	var le *platform.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v", err)
	}
	var got []string
	for _, pr := range le.Problems {
		got = append(got, pr.String())
	}
	want := []string{
		"option 0 is nil",
		`WithHandler "a": given twice`,
		`WithHandler "b": nil handler`,
		"WithResolver: empty name or nil function",
		`WithSection: section "cache" is built in`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestResourcesFailClosed(t *testing.T) {
	// A list that is missing or not a list denies; an empty one has
	// nothing to check.
	spec := doc("", op("/instances", "post", "launch",
		"        authorization:\n          resources:\n            - {name: Subnet, forEach: request.body.subnetIds, resolver: subnet, permissions: [use]}\n"))
	subnets := map[string]map[string]any{"sn-1": {"compartment": "c1"}}
	p := mustLoad(t, spec,
		platform.WithAuthenticator("apiKey", apiKeys(t)),
		platform.WithResolver("subnet", resolverOf(subnets)),
		platform.WithHandler("launch", okHandler))
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"subnetIds":["sn-1"]}`, 200},
		{`{"subnetIds":[]}`, 200},
		{`{}`, 403},
		{`{"subnetIds":"sn-1"}`, 403},
		{`{"subnetIds":["sn-404"]}`, 403},
		{`not json`, 400},
	} {
		if rec := serve(p.Handler(), "POST", "/instances", aliceKey, c.body); rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.body, rec.Code, c.want)
		}
	}
}

func TestUpstreamFallback(t *testing.T) {
	var calls int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer up.Close()
	spec := doc("  authentication: {mode: none}\n", op("/list", "get", "list",
		"        upstream:\n          url: "+up.URL+"\n          breaker: {failureRate: 1, minCalls: 1, openFor: 1h, slowCall: 10s}\n          retry: {attempts: 1}\n"))
	var causes []string
	p := mustLoad(t, spec, platform.WithUpstreamFallback(func(r *http.Request, err error) (*http.Response, error) {
		causes = append(causes, err.Error())
		return &http.Response{StatusCode: 200, Header: http.Header{"X-Fallback": {"1"}}, Body: io.NopCloser(strings.NewReader("last good")), Request: r}, nil
	}))
	for i := range 3 {
		rec := serve(p.Handler(), "GET", "/list", "", "")
		if rec.Code != 200 || rec.Body.String() != "last good" || rec.Header().Get("X-Fallback") != "1" {
			t.Fatalf("call %d: %d %q", i, rec.Code, rec.Body)
		}
	}
	if calls != 1 {
		t.Errorf("upstream called %d times, want 1 (then the breaker opened)", calls)
	}
	if len(causes) != 3 || !strings.Contains(causes[2], "open") {
		t.Errorf("causes %q", causes)
	}
}

// TestUpstreamLayer: WithUpstreamLayer's wrap sits outside the breaker:
// it sees every call, including those the open breaker rejects, and what
// it refuses itself never reaches the breaker.
func TestUpstreamLayer(t *testing.T) {
	var calls int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer up.Close()
	spec := doc("  authentication: {mode: none}\n", op("/list", "get", "list",
		"        upstream:\n          url: "+up.URL+"\n          breaker: {failureRate: 1, minCalls: 2, openFor: 1h, slowCall: 10s}\n          retry: {attempts: 1}\n"))
	var seen int
	refuse := false
	errRefused := errors.New("refused by the layer")
	p := mustLoad(t, spec, platform.WithUpstreamLayer(func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			seen++
			if refuse {
				return nil, errRefused
			}
			return next.RoundTrip(r)
		})
	}))
	// Refused by the layer: the breaker counts nothing, however many.
	refuse = true
	for range 5 {
		serve(p.Handler(), "GET", "/list", "", "")
	}
	refuse = false
	// Two failures open the breaker (minCalls 2); the third is rejected
	// by the breaker, still through the layer.
	for range 3 {
		serve(p.Handler(), "GET", "/list", "", "")
	}
	if seen != 8 || calls != 2 {
		t.Fatalf("layer saw %d calls, upstream %d; want 8 and 2 (the breaker opened after the 2 calls it saw)", seen, calls)
	}
	if _, err := platform.Load(spec, platform.WithUpstreamLayer(nil)); err == nil || !strings.Contains(err.Error(), "WithUpstreamLayer: nil wrap") {
		t.Fatalf("nil wrap: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLimiters: WithLimiters builds each policy's buckets, given the
// policy's name, rate and burst, so a service can keep them in a shared
// store; what the limiter decides is what the client sees.
func TestLimiters(t *testing.T) {
	spec := doc("  authentication: {mode: none}\n", op("/a", "get", "a", allow+"        rateLimit: {rate: 120/m, burst: 3, policy: reads}\n"))
	type built struct {
		policy string
		limit  rate.Limit
		burst  int
	}
	var got []built
	p := mustLoad(t, spec, platform.WithHandler("a", okHandler),
		platform.WithLimiters(func(policy string, limit rate.Limit, burst int) (ratelimit.Decider, error) {
			got = append(got, built{policy, limit, burst})
			return ratelimit.NewKeyed(limit, 1) // one token: the second call is limited
		}))
	if len(got) != 1 || got[0] != (built{"reads", 2, 3}) {
		t.Fatalf("limiters built: %+v, want one for policy reads, 2/s, burst 3", got)
	}
	h := p.Handler()
	if rec := serve(h, "GET", "/a", "", ""); rec.Code != 200 {
		t.Fatalf("first call: %d", rec.Code)
	}
	if rec := serve(h, "GET", "/a", "", ""); rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("second call: %d, Retry-After %q; want 429 from the given limiter", rec.Code, rec.Header().Get("Retry-After"))
	}

	failing := platform.WithLimiters(func(string, rate.Limit, int) (ratelimit.Decider, error) {
		return nil, errors.New("store unreachable")
	})
	_, err := platform.Load(spec, platform.WithHandler("a", okHandler), failing)
	if err == nil || !strings.Contains(err.Error(), "/paths/~1a/get/x-platform/rateLimit: store unreachable") {
		t.Fatalf("failing limiter: %v, want a load error at the rateLimit", err)
	}
	if _, err := platform.Load(spec, platform.WithLimiters(nil)); err == nil || !strings.Contains(err.Error(), "WithLimiters: nil function") {
		t.Fatalf("nil limiter function: %v", err)
	}
}
