package main

import (
	"net/http"
	"strconv"
	"testing"
)

// TestGatewayInstanceCache: GET /instances/{id} is served from the
// response cache (gateway.yaml: cache ttl 2s; Age on the second, ETag, 304
// for If-None-Match), and terminating the instance refreshes the stored
// copy at the next read.
func TestGatewayInstanceCache(t *testing.T) {
	g := startGateway(t)
	var first Instance
	resp := g.do(t, "GET", "/instances/inst-0001", "", "", &first)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("first GET: %d, Age %q, ETag %q", resp.StatusCode, resp.Header.Get("Age"), etag)
	}
	var again Instance
	resp = g.do(t, "GET", "/instances/inst-0001", "", "", &again)
	if age, err := strconv.Atoi(resp.Header.Get("Age")); err != nil || age < 0 || again != first || resp.Header.Get("ETag") != etag {
		t.Fatalf("second GET: Age %q, %+v", resp.Header.Get("Age"), again)
	}

	req, _ := http.NewRequest("GET", g.base+"/instances/inst-0001", nil)
	req.Header.Set("If-None-Match", etag)
	req.Header.Set("X-API-Key", "demo")
	nm, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	nm.Body.Close()
	if nm.StatusCode != http.StatusNotModified || nm.Header.Get("ETag") != etag {
		t.Fatalf("conditional GET: %d, ETag %q; want 304", nm.StatusCode, nm.Header.Get("ETag"))
	}

	var terminated Instance
	if resp := g.do(t, "POST", "/instances/inst-0001/terminate", "", "", &terminated); resp.StatusCode != 200 {
		t.Fatalf("terminate: %d", resp.StatusCode)
	}
	// The platform keeps each operation's cache to itself; the gateway
	// marks the terminated instance, and its next read asks the upstream.
	var after Instance
	if resp := g.do(t, "GET", "/instances/inst-0001", "", "", &after); resp.StatusCode != 200 || after.State != stateTerminated {
		t.Fatalf("GET after terminate: %d %+v; the cached RUNNING copy survived", resp.StatusCode, after)
	}
	var cached Instance
	resp = g.do(t, "GET", "/instances/inst-0001", "", "", &cached)
	if resp.StatusCode != 200 || cached.State != stateTerminated || resp.Header.Get("Age") == "" {
		t.Fatalf("GET after that: %d, Age %q, %+v; want the stored TERMINATED copy", resp.StatusCode, resp.Header.Get("Age"), cached)
	}
}
