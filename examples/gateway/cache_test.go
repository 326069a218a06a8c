package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
)

// TestGatewayInstanceCache: GET /instances/{id} is served from the
// response cache (gateway.yaml: cache ttl 2s; Age on the second, ETag, 304
// for If-None-Match), and a no-cache request refreshes the stored copy.
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
	// The platform keeps each operation's cache to itself: a terminate
	// cannot drop the cached read, which stays until its 2s are up. A
	// client that needs the latest state asks for it (RFC 9111 no-cache):
	// the gateway goes to the upstream and stores the new answer.
	req, _ = http.NewRequest("GET", g.base+"/instances/inst-0001", nil)
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("X-API-Key", "demo")
	resp, err = g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var after Instance
	err = json.NewDecoder(resp.Body).Decode(&after)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || after.State != stateTerminated {
		t.Fatalf("GET no-cache after terminate: %d %+v %v; want TERMINATED", resp.StatusCode, after, err)
	}
	var cached Instance
	if resp := g.do(t, "GET", "/instances/inst-0001", "", "", &cached); resp.StatusCode != 200 || cached.State != stateTerminated {
		t.Fatalf("GET after the no-cache read: %d %+v; want the stored TERMINATED copy", resp.StatusCode, cached)
	}
}
