package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayBrokenSpec: a -spec document the platform cannot serve stops
// the gateway before it listens, exit code 1, with every problem at its
// JSON pointer.
func TestGatewayBrokenSpec(t *testing.T) {
	spec := string(embeddedSpec)
	for _, r := range []struct{ old, new string }{
		{`request.query("compartment") == principal.tenant`, `request.query("compartment") == principle.tenant`},
		{`audit: {type: com.example.instances.get}`, `audit: {level: verbose}`},
		{`rateLimit: {rate: 2/m,`, `rateLimit: {rate: -2/m,`},
		{"resolver: instance\n", "resolver: instances\n"},
	} {
		if !strings.Contains(spec, r.old) {
			t.Fatalf("gateway.yaml has no %q", r.old)
		}
		spec = strings.Replace(spec, r.old, r.new, 1)
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-admin", "", "-audit-dir", t.TempDir(), "-spec", path},
		&stdout, &stderr, func(string, string) { t.Error("gateway started") })
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "gateway: " + path + `: platform: 4 problems:
	/paths/~1instances/get/x-platform/authorization/check: unknown name principle (1:53)
	/paths/~1instances/post/x-platform/rateLimit/rate: rate "-2/m" is not count/period with a positive count, such as 100/m
	/paths/~1instances~1{id}/get/x-platform/audit/level: value must be one of 'none', 'metadata', 'request', 'requestResponse'
	/paths/~1instances~1{id}~1terminate/post/x-platform/authorization/resources/0/resolver: unknown resolver "instances" (platform.WithResolver)
`
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if stdout.String() != "" {
		t.Errorf("a banner for a gateway that did not start:\n%s", stdout.String())
	}
}

// TestGatewayOtherSpec: -spec serves another document: here one that
// only lists instances, publicly, with no audit and no limits.
func TestGatewayOtherSpec(t *testing.T) {
	const spec = `openapi: 3.0.3
info: {title: Read-only compute, version: "1"}
x-platform:
  authentication: {mode: none}
  upstream: {url: "${UPSTREAM}"}
paths:
  /healthz:
    get:
      operationId: health
      responses: {"200": {description: up}}
  /instances:
    get:
      operationId: listInstances
      responses: {"200": {description: the instances}}
`
	path := filepath.Join(t.TempDir(), "readonly.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "-spec", path)
	if !strings.Contains(g.stdout.String(), "API: "+path) {
		t.Errorf("the banner does not name the document:\n%s", g.stdout)
	}
	for _, tc := range []struct {
		key, method, path string
		want              int
	}{
		{"", "GET", "/instances", 200},              // public in this document
		{"", "GET", "/instances/inst-0001", 404},    // not in it
		{"", "POST", "/instances", 405},             // not in it either
		{"bob-key", "DELETE", "/admin/faults", 404}, // nor is the fault switch
		{"", "GET", "/metrics", 200},                // the gateway's own
	} {
		if got := mustDo(t, g, tc.key, tc.method, tc.path, ""); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}
