package main

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/paved-go/paved/status"
)

// TestGatewayStatusPage is the README's drill: the admin listener serves
// the status page; faults injected through it fail the upstream, the
// breaker opens and the page says so; clearing them ends the drill.
func TestGatewayStatusPage(t *testing.T) {
	// The registry is process-wide: let the components of gateways that
	// earlier tests stopped drop out, so the rows below are this one's.
	runtime.GC()
	g := startGateway(t, "-breaker-open", "1m")
	if g.admin == "" {
		t.Fatal("no admin listener")
	}
	admin := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, g.admin+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	rows := func() []status.Component {
		t.Helper()
		_, body := admin("GET", "/status.json", "")
		var doc status.Document
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatalf("status.json: %v: %.300s", err, body)
		}
		if !doc.Faults {
			t.Fatal("status.json: the fault control is not mounted")
		}
		return doc.Components
	}
	// find returns the first row of a kind and name (a rate-limit
	// policy's rows are keyed by route).
	find := func(cs []status.Component, kind, name string) *status.Component {
		for i := range cs {
			if cs[i].Kind == kind && cs[i].Name == name {
				return &cs[i]
			}
		}
		return nil
	}

	if resp, body := admin("GET", "/", ""); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "paved gateway") {
		t.Fatalf("the page: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Every kind of component the gateway runs is on the page.
	before := rows()
	for _, want := range []struct{ kind, name string }{
		{"breaker", "getInstance"}, {"ratelimit", "launch"}, {"cache", "getInstance"},
		{"overload", "gateway"}, {"audit", "gateway"}, {"idempotency", "launchInstance"}, {"faults", "upstream"},
	} {
		if c := find(before, want.kind, want.name); c == nil {
			t.Errorf("no %s row named %q", want.kind, want.name)
		}
	}
	if c := find(before, "breaker", "getInstance"); c == nil || c.State != "closed" {
		t.Fatalf("getInstance breaker before the drill: %+v", c)
	}

	// Fail every upstream call, from the page's fault control.
	if resp, body := admin("POST", "/faults", outage); resp.StatusCode != 200 {
		t.Fatalf("inject: %d %s", resp.StatusCode, body)
	}
	if c := find(rows(), "faults", "upstream"); c == nil || c.State != "active" {
		t.Fatalf("faults row after injecting: %+v", c)
	}
	opened := false
	for range 6 {
		var p problem
		if resp := g.do(t, "GET", "/instances/inst-0001", "", "", &p); resp.StatusCode != 503 {
			t.Fatalf("a read while the upstream fails: %d", resp.StatusCode)
		}
		if p.Detail == "breaker: open" {
			opened = true
			break
		}
	}
	if !opened {
		t.Fatal("the breaker did not open")
	}
	if c := find(rows(), "breaker", "getInstance"); c == nil || c.State != "open" || c.Health != status.HealthBad {
		t.Fatalf("getInstance breaker after the drill: %+v; want open, bad", c)
	}
	if resp, _ := admin("DELETE", "/faults", ""); resp.StatusCode != 200 {
		t.Fatalf("clear: %d", resp.StatusCode)
	}
	if c := find(rows(), "faults", "upstream"); c == nil || c.State != "off" {
		t.Fatalf("faults row after clearing: %+v", c)
	}
	// A plain form post from another page cannot switch faults on.
	req, _ := http.NewRequest("POST", g.admin+"/faults", strings.NewReader(outage))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := g.client.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %v %v; want 415", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestGatewayNoAdmin: -admin ” serves no admin listener.
func TestGatewayNoAdmin(t *testing.T) {
	g := startGateway(t, "-admin", "")
	if g.admin != "" {
		t.Fatalf("admin listener at %s with -admin ''", g.admin)
	}
	if !strings.Contains(g.stdout.String(), "Status page: none") {
		t.Fatalf("banner:\n%s", g.stdout)
	}
}
