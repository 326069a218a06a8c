package main

import (
	"io"
	"regexp"
	"strings"
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

// TestGatewayThrottle: once the upstream refuses calls (503), the
// gateway's client-side throttle drops calls itself, without sending
// them: a read fails as throttled, a list is answered from the last good
// list, and the operation's breaker, which never saw the dropped calls,
// stays closed.
func TestGatewayThrottle(t *testing.T) {
	saved := throttleRandom
	throttleRandom = func() float64 { return 0 } // drop whenever the probability is above 0
	t.Cleanup(func() { throttleRandom = saved })
	g := startGateway(t)

	if got := mustDo(t, g, "admin-key", "GET", "/instances", ""); got != 200 { // remembered as the last good list
		t.Fatalf("list: %d", got)
	}
	if resp := g.do(t, "POST", "/admin/faults", "application/json", outage, nil); resp.StatusCode != 200 {
		t.Fatalf("fault switch: %d", resp.StatusCode)
	}
	// The first calls reach the upstream and are refused; as refusals
	// outnumber half the calls, the throttle drops the rest itself.
	var details []string
	for range 3 {
		var p problem
		resp := g.do(t, "GET", "/instances/inst-0002", "", "", &p)
		if resp.StatusCode != 503 {
			t.Fatalf("read while the upstream refuses: %d %+v", resp.StatusCode, p)
		}
		details = append(details, p.Detail)
	}
	if details[0] != injectedOutage || details[2] != "overload: throttled by the client" {
		t.Fatalf("reads while the upstream refuses answered %q; want the upstream's fault, then throttled", details)
	}
	resp := g.do(t, "GET", "/instances", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("X-Paved-Fallback"), "throttled") {
		t.Fatalf("list while throttled: %d, X-Paved-Fallback %q; want the last good list", resp.StatusCode, resp.Header.Get("X-Paved-Fallback"))
	}

	mresp, err := g.client.Get(g.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^paved_overload_throttle_decisions_total\{.*decision="throttled",.*paved_overload_name="upstream"\} [1-9]`),
		regexp.MustCompile(`(?m)^paved_breaker_state\{.*paved_breaker_name="getInstance",state="closed"\} 1$`),
	} {
		if !want.Match(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
