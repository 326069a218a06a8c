package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/tracing"
)

// TestGatewayAccess calls the gateway with the demo's own keys: each
// principal works in its own compartment, operators change things,
// admins do anything, and a missing or unknown key is 401 with a
// challenge saying where the key goes.
func TestGatewayAccess(t *testing.T) {
	g := startGateway(t)
	call := func(key, method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, g.base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}
	// The seeds: inst-0001 and inst-0002 in prod, inst-0003 in dev.
	tests := []struct {
		name, key, method, path, body string
		want                          int
	}{
		{"no key", "", "GET", "/instances/inst-0001", "", 401},
		{"unknown key", "mallory-key", "GET", "/instances/inst-0001", "", 401},
		{"read own instance", "alice-key", "GET", "/instances/inst-0001", "", 200},
		{"read another compartment's instance", "bob-key", "GET", "/instances/inst-0001", "", 403},
		{"read an instance that does not exist", "bob-key", "GET", "/instances/inst-9999", "", 403},
		{"list own compartment", "bob-key", "GET", "/instances?compartment=dev", "", 200},
		{"list another compartment", "bob-key", "GET", "/instances?compartment=prod", "", 403},
		{"list everything", "bob-key", "GET", "/instances", "", 403},
		{"admin lists everything", "admin-key", "GET", "/instances", "", 200},
		{"launch in another compartment", "bob-key", "POST", "/instances", `{"compartment":"prod"}`, 403},
		{"viewer launches", "carol-key", "POST", "/instances", `{"compartment":"dev"}`, 403},
		{"launch in own compartment", "bob-key", "POST", "/instances", `{"compartment":"dev"}`, 201},
		{"terminate another compartment's instance", "bob-key", "POST", "/instances/inst-0001/terminate", "", 403},
		{"viewer terminates", "carol-key", "POST", "/instances/inst-0003/terminate", "", 403},
		{"terminate own instance", "bob-key", "POST", "/instances/inst-0003/terminate", "", 200},
		{"operator flips the fault switch", "alice-key", "DELETE", "/admin/faults", "", 403},
		{"admin flips the fault switch", "admin-key", "DELETE", "/admin/faults", "", 200},
		{"health needs no key", "", "GET", "/healthz", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := call(tc.key, tc.method, tc.path, tc.body)
			if status != tc.want {
				t.Fatalf("%s %s as %q: %d, want %d: %s", tc.method, tc.path, tc.key, status, tc.want, body)
			}
			switch status {
			case 401:
				if got := h.Get("WWW-Authenticate"); got != `ApiKey realm="paved-gateway", header="X-API-Key"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				fallthrough
			case 403:
				if h.Get("Content-Type") != "application/problem+json" || strings.Contains(body, "resource(") {
					t.Errorf("denial is not a bare problem: %s %s", h.Get("Content-Type"), body)
				}
			}
		})
	}
}

// TestGatewayRefusesUnguardedOperations: an operation without
// authorization (one added to the document without a check) stops the
// gateway from starting, with the operation's JSON pointer.
func TestGatewayRefusesUnguardedOperations(t *testing.T) {
	spec := strings.Replace(string(embeddedSpec), "  /instances/{id}/terminate:\n", `  /instances/{id}/reboot:
    post:
      operationId: rebootInstance
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: rebooted}
  /instances/{id}/terminate:
`, 1)
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	logger := tracing.NewLogger(io.Discard)
	prepared, err := prepare([]byte(spec), overrides{upstream: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = newGateway(gatewayConfig{spec: prepared, upstream: mustParseURL(t, "http://127.0.0.1:1"), transport: transport,
		logger: logger, tracer: newTestTracer(t, io.Discard)})
	le, ok := errors.AsType[*platform.LoadError](err)
	if !ok || len(le.Problems) != 1 || le.Problems[0].Pointer != "/paths/~1instances~1{id}~1reboot/post/x-platform" ||
		!strings.Contains(le.Problems[0].Message, "authorization") {
		t.Fatalf("newGateway = %v, want one problem at the new operation about its authorization", err)
	}
}

// mustDo sends a request with the API key (none when "") and returns the
// status.
func mustDo(t *testing.T, g *gatewayProcess, key, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, g.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
