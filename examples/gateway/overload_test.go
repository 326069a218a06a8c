package main

import (
	"io"
	"regexp"
	"testing"
)

// TestGatewayOverloadClasses: the API routes go through the gateway's
// adaptive limit, listing as sheddable and launching as critical; health
// checks do not.
func TestGatewayOverloadClasses(t *testing.T) {
	g := startGateway(t)
	if got := mustDo(t, g, "admin-key", "GET", "/instances", ""); got != 200 {
		t.Fatalf("list: %d", got)
	}
	if got := mustDo(t, g, "bob-key", "POST", "/instances", `{"compartment":"dev"}`); got != 201 {
		t.Fatalf("launch: %d", got)
	}
	if got := mustDo(t, g, "", "GET", "/healthz", ""); got != 200 {
		t.Fatalf("health: %d", got)
	}
	resp, err := g.client.Get(g.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^paved_overload_decisions_total\{.*class="sheddable",.*paved_overload_name="gateway"\} [1-9]`),
		regexp.MustCompile(`(?m)^paved_overload_decisions_total\{.*class="critical",.*paved_overload_name="gateway"\} [1-9]`),
		regexp.MustCompile(`(?m)^paved_overload_limit\{.*paved_overload_name="gateway"\} [1-9]`),
	} {
		if !want.Match(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
