package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGatewaySpecEndToEnd walks through every feature gateway.yaml asks
// for, as a client sees it over HTTP, against the embedded document: the
// correlation id, 401, 403 after a resource lookup, 429 with Retry-After,
// the response cache (Age, 304), the audit event with its additional
// field, the breaker's 503 and the last-good fallback, and /metrics.
func TestGatewaySpecEndToEnd(t *testing.T) {
	g := startGateway(t)
	call := func(key, method, path, body string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, g.base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// Tracing: the caller's correlation id comes back.
	if resp, _ := call("bob-key", "GET", "/instances?compartment=dev", "", "X-Correlation-ID", "e2e-42"); resp.StatusCode != 200 ||
		resp.Header.Get("X-Correlation-ID") != "e2e-42" {
		t.Fatalf("list: %d, correlation id %q", resp.StatusCode, resp.Header.Get("X-Correlation-ID"))
	}

	// Rate limits: per key (the document) and per address (the gateway)
	// on the API; none where the document says rateLimit: null.
	if resp, _ := call("bob-key", "GET", "/instances?compartment=dev", ""); !slices.ContainsFunc(resp.Header.Values("RateLimit-Policy"),
		func(v string) bool { return strings.HasPrefix(v, `"api";`) }) ||
		!slices.ContainsFunc(resp.Header.Values("RateLimit-Policy"), func(v string) bool { return strings.HasPrefix(v, `"ip";`) }) {
		t.Fatalf("list: policies %q, want api and ip", resp.Header.Values("RateLimit-Policy"))
	}
	if resp, _ := call("", "GET", "/healthz", ""); resp.StatusCode != 200 || len(resp.Header.Values("RateLimit-Policy")) != 0 {
		t.Fatalf("healthz: %d, policies %q; want 200 and none", resp.StatusCode, resp.Header.Values("RateLimit-Policy"))
	}

	// Authentication: no key, 401 with the challenge.
	if resp, _ := call("", "GET", "/instances/inst-0003", ""); resp.StatusCode != 401 ||
		resp.Header.Get("WWW-Authenticate") != `ApiKey realm="paved-gateway", header="X-API-Key"` {
		t.Fatalf("no key: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Authorization: resource("instance", id) finds inst-0001 in prod, so
	// bob (dev) is denied and alice (prod) is not.
	if resp, body := call("bob-key", "GET", "/instances/inst-0001", ""); resp.StatusCode != 403 ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("bob reads prod's instance: %d %s", resp.StatusCode, body)
	}
	if resp, body := call("alice-key", "GET", "/instances/inst-0002", ""); resp.StatusCode != 200 {
		t.Fatalf("alice reads prod's instance: %d %s", resp.StatusCode, body)
	}

	// Cache: the second read is a hit with Age; If-None-Match gets 304.
	resp, _ := call("alice-key", "GET", "/instances/inst-0002", "")
	etag := resp.Header.Get("ETag")
	if _, err := strconv.Atoi(resp.Header.Get("Age")); err != nil || etag == "" ||
		!strings.Contains(resp.Header.Get("Cache-Status"), "getInstance; hit") {
		t.Fatalf("second read: Age %q, ETag %q, Cache-Status %q", resp.Header.Get("Age"), etag, resp.Header.Get("Cache-Status"))
	}
	if resp, _ := call("alice-key", "GET", "/instances/inst-0002", "", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Fatalf("conditional read: %d, want 304", resp.StatusCode)
	}

	// Rate limit: two launches a minute per key, then 429 with Retry-After.
	var launched Instance
	for i := range 2 {
		resp, body := call("bob-key", "POST", "/instances", `{"compartment":"dev","displayName":"e2e"}`)
		if resp.StatusCode != 201 {
			t.Fatalf("launch %d: %d %s", i+1, resp.StatusCode, body)
		}
		if i == 0 {
			if err := json.Unmarshal([]byte(body), &launched); err != nil {
				t.Fatal(err)
			}
		}
	}
	if resp, _ := call("bob-key", "POST", "/instances", `{"compartment":"dev"}`); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third launch: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Upstream: GET /instances is remembered; when the upstream fails,
	// getInstance's breaker opens (503, Retry-After) and the list is
	// served from the last good answer.
	if resp, _ := call("admin-key", "GET", "/instances", ""); resp.StatusCode != 200 {
		t.Fatalf("admin list: %d", resp.StatusCode)
	}
	resp, p := trip(t, g)
	if resp.Header.Get("Retry-After") == "" || p.Status != 503 {
		t.Fatalf("open breaker: %+v, Retry-After %q", p, resp.Header.Get("Retry-After"))
	}
	if resp, body := call("admin-key", "GET", "/instances", ""); resp.StatusCode != 200 || resp.Header.Get(fallbackHeader) == "" ||
		!strings.Contains(body, `"inst-0001"`) {
		t.Fatalf("list while the upstream fails: %d, %s %q", resp.StatusCode, fallbackHeader, resp.Header.Get(fallbackHeader))
	}
	call("admin-key", "DELETE", "/admin/faults", "")

	// Metrics: the breaker's state, authorization decisions, the server.
	_, metrics := call("", "GET", "/metrics", "")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^paved_breaker_state\{.*paved_breaker_name="getInstance",state="open"\} 1$`),
		regexp.MustCompile(`(?m)^paved_authz_decisions_total\{.*decision="deny".*\} [1-9]`),
		regexp.MustCompile(`(?m)^http_server_request_duration_seconds_count\{`),
	} {
		if !want.MatchString(metrics) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Audit: stop the gateway (Close writes every queued event), then
	// find the launch with the new instance's address.
	g.stop()
	if code := <-g.exit; code != 0 {
		t.Fatalf("exit %d: %s", code, g.stderr)
	}
	g.exit <- 0 // for the cleanup
	var found, denied bool
	for _, e := range readTrail(t, filepath.Join(g.auditDir, auditFile)) {
		if e.Type == "com.example.instances.get" && e.Data.Outcome.Code == 403 {
			// The denial names the instance the rule looked up.
			denied = len(e.Data.Resources) == 1 && e.Data.Resources[0].ID == "inst-0001" && e.Data.Principal != nil && e.Data.Principal.ID == "bob"
		}
		if e.Type != "com.example.instances.launch" || e.Data.Outcome.Code != 201 {
			continue
		}
		var ip string
		if err := json.Unmarshal(e.Data.AdditionalFields["ipAddress"], &ip); err == nil && ip == launched.IPAddress {
			found = true
			break
		}
	}
	if !denied {
		t.Error("no event of bob's denied read naming inst-0001")
	}
	if !found {
		t.Fatalf("no launch event with additionalFields.ipAddress %q", launched.IPAddress)
	}
}
