package platform_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/platform"
)

// computeAPI is the test document with its upstream pointed at url.
func computeAPI(t *testing.T, url string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/compute.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "UPSTREAM", url))
}

type e2e struct {
	t        *testing.T
	srv      *httptest.Server
	p        *platform.Platform
	sink     *memorySink
	gets     atomic.Int64
	upstream atomic.Int64
}

func newE2E(t *testing.T) *e2e {
	e := &e2e{t: t, sink: &memorySink{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.upstream.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(up.Close)
	subnets := map[string]map[string]any{
		"sn-1": {"compartment": "c1"},
		"sn-2": {"compartment": "c2"},
	}
	instances := map[string]map[string]any{
		"i-1": {"compartment": "c1"},
	}
	p, err := platform.Load(computeAPI(t, up.URL),
		platform.WithAuthenticator("apiKey", apiKeys(t)),
		platform.WithResolver("subnet", resolverOf(subnets)),
		platform.WithResolver("instance", resolverOf(instances)),
		platform.WithAudit(audit.WithSink(e.sink)),
		platform.WithRequestValidation(),
		platform.WithLogger(slog.New(slog.DiscardHandler)),
		platform.WithHandlers(map[string]http.Handler{
			"health": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			}),
			"launchInstance": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusCreated, map[string]string{"id": "i-9", "ipAddress": "10.0.0.7"})
			}),
			"getInstance": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e.gets.Add(1)
				w.Header().Set("ETag", `"v1"`)
				writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
			}),
			"getQuota": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]int{"instances": 10})
			}),
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.srv = httptest.NewServer(p.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		_ = p.Close(context.Background())
	})
	return e
}

func (e *e2e) do(method, path, key, body string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestEndToEnd(t *testing.T) {
	e := newE2E(t)

	t.Run("public", func(t *testing.T) {
		resp, body := e.do("GET", "/healthz", "", "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Correlation-ID") == "" {
			t.Error("no correlation id")
		}
	})
	t.Run("401", func(t *testing.T) {
		resp, body := e.do("GET", "/instances/i-1", "", "")
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "ApiKey") {
			t.Fatalf("status %d, WWW-Authenticate %q: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("403 by a resource in another compartment", func(t *testing.T) {
		resp, body := e.do("POST", "/instances", aliceKey, `{"image":"ubuntu","subnetIds":["sn-1","sn-2"]}`)
		if resp.StatusCode != 403 || !strings.Contains(body, `launchInstance.Subnet`) {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("403 by the check", func(t *testing.T) {
		resp, body := e.do("POST", "/instances", bobKey, `{"image":"ubuntu","subnetIds":[]}`)
		if resp.StatusCode != 403 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("201 with resources in the caller's compartment", func(t *testing.T) {
		resp, body := e.do("POST", "/instances", aliceKey, `{"image":"ubuntu","subnetIds":["sn-1"]}`)
		if resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if resp.Header.Get("RateLimit-Policy") == "" {
			t.Error("no RateLimit-Policy header")
		}
	})
	t.Run("400 by request validation", func(t *testing.T) {
		resp, body := e.do("POST", "/instances", aliceKey, `{"image":"ubuntu","subnetIds":"sn-1"}`)
		if resp.StatusCode != 400 || !strings.Contains(body, `"field":"/subnetIds"`) {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		if resp, body := e.do("GET", "/quota", aliceKey, ""); resp.StatusCode != 200 {
			t.Fatalf("first: status %d: %s", resp.StatusCode, body)
		}
		resp, body := e.do("GET", "/quota", aliceKey, "")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("second: status %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if resp, _ := e.do("GET", "/quota", bobKey, ""); resp.StatusCode != 200 {
			t.Fatalf("another key: status %d", resp.StatusCode)
		}
	})
	t.Run("cache", func(t *testing.T) {
		before := e.gets.Load()
		r1, b1 := e.do("GET", "/instances/i-1", aliceKey, "")
		r2, b2 := e.do("GET", "/instances/i-1", aliceKey, "")
		if r1.StatusCode != 200 || r2.StatusCode != 200 || b1 != b2 {
			t.Fatalf("statuses %d %d: %s %s", r1.StatusCode, r2.StatusCode, b1, b2)
		}
		if r2.Header.Get("Age") == "" {
			t.Errorf("second response has no Age: %v", r2.Header)
		}
		if n := e.gets.Load() - before; n != 1 {
			t.Errorf("handler called %d times, want 1", n)
		}
		// A matching If-None-Match is answered 304 by the cache.
		req, _ := http.NewRequest("GET", e.srv.URL+"/instances/i-1", nil)
		req.Header.Set("X-API-Key", aliceKey)
		req.Header.Set("If-None-Match", `"v1"`)
		r3, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r3.Body.Close()
		if r3.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: status %d, want 304", r3.StatusCode)
		}
		if n := e.gets.Load() - before; n != 1 {
			t.Errorf("handler called %d times, want 1", n)
		}
		// The cache is behind authorization: bob is still refused.
		if r, _ := e.do("GET", "/instances/i-1", bobKey, ""); r.StatusCode != 403 {
			t.Errorf("bob: status %d, want 403", r.StatusCode)
		}
	})
	t.Run("upstream breaker", func(t *testing.T) {
		for i := range 2 {
			if r, body := e.do("GET", "/images/ubuntu", aliceKey, ""); r.StatusCode != 500 {
				t.Fatalf("call %d: status %d: %s", i, r.StatusCode, body)
			}
		}
		r, body := e.do("GET", "/images/ubuntu", aliceKey, "")
		if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q: %s", r.StatusCode, r.Header.Get("Retry-After"), body)
		}
		if n := e.upstream.Load(); n != 2 {
			t.Errorf("upstream called %d times, want 2", n)
		}
	})
	t.Run("audit", func(t *testing.T) {
		e.srv.Close()
		if err := e.p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		var launched []*audit.Event
		for _, ev := range e.sink.all() {
			if ev.Type == "com.example.instances.launch" {
				launched = append(launched, ev)
			}
		}
		// 403, 403, 201, 400: every launch attempt is in the trail.
		if len(launched) != 4 {
			t.Fatalf("%d launch events, want 4", len(launched))
		}
		var ok *audit.Event
		for _, ev := range launched {
			if ev.Data.Outcome != nil && ev.Data.Outcome.Code == 201 {
				ok = ev
			}
		}
		if ok == nil {
			t.Fatal("no event for the 201")
		}
		if ok.Data.Principal == nil || ok.Data.Principal.ID != "alice" {
			t.Errorf("principal %+v", ok.Data.Principal)
		}
		if got, _ := json.Marshal(ok.Data.AdditionalFields["ipAddress"]); string(got) != `"10.0.0.7"` {
			t.Errorf("ipAddress %s in %+v", got, ok.Data)
		}
		if ok.Data.Authorization == nil || ok.Data.Authorization.Decision != "allow" {
			t.Errorf("authorization %+v", ok.Data.Authorization)
		}
	})
}
