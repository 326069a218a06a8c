package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/tracing"
	"go.yaml.in/yaml/v4"
)

func TestMain(m *testing.M) {
	// Keys for tests about something other than access: admins, each
	// request its own key (do), so the per-key rate limits stay out of
	// the way. TestGatewayAccess uses the demo's own keys.
	for i := range testKeys {
		demoKeys[testKey(i)] = &authz.Principal{ID: testKey(i), Type: "user", Tenant: "ops", Roles: []string{"admin"}}
	}
	for _, k := range []string{"demo", "other"} {
		demoKeys[k] = &authz.Principal{ID: k, Type: "user", Tenant: "ops", Roles: []string{"admin"}}
	}
	// The client-side throttle drops calls at random once the upstream
	// refuses some: tests about the breaker and the fallback see only the
	// upstream's own answers (draws just under 1 never drop a call);
	// TestGatewayThrottle makes it drop every call it may.
	throttleRandom = func() float64 { return 1 - 1e-12 }
	goleak.VerifyTestMain(m)
}

// testKeys is the number of admin keys tests rotate through.
const testKeys = 2000

func testKey(i int) string { return "test-" + strconv.Itoa(i) }

// mustGateway is newGateway for tests: the embedded document with its
// upstream at cfg.upstream and o's overrides, audit events to the log.
func mustGateway(t *testing.T, cfg gatewayConfig, o overrides) http.Handler {
	t.Helper()
	o.upstream = cfg.upstream.String()
	spec, err := prepare(embeddedSpec, o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.spec = spec
	h, closeAll, err := newGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeAll(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return h
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// and the test to read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type gatewayProcess struct {
	base           string
	stdout, stderr *syncBuffer
	stop           context.CancelFunc
	exit           chan int
	client         *http.Client
	keys           atomic.Int64
	auditDir       string // the audit trail's directory
	admin          string // the admin listener's base URL; "" with -admin ''
}

// startGateway runs the whole program in-process on a free loopback port.
func startGateway(t *testing.T, args ...string) *gatewayProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &gatewayProcess{
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, exit: make(chan int, 1),
		auditDir: t.TempDir(),
		// Like a well-behaved client, tests send an Idempotency-Key with
		// every launch (idempotency.Transport); TestGatewayIdempotency
		// sends its own.
		client: &http.Client{Transport: idempotency.Transport(&http.Transport{}), Timeout: 10 * time.Second},
	}
	addr := make(chan [2]string, 1)
	go func() {
		// The admin listener on a free port too; a test's own -admin
		// comes later and wins.
		g.exit <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-audit-dir", g.auditDir}, args...), g.stdout, g.stderr,
			func(a, admin string) { addr <- [2]string{a, admin} })
	}()
	select {
	case a := <-addr:
		g.base = "http://" + a[0]
		if a[1] != "" {
			g.admin = "http://" + a[1]
		}
	case code := <-g.exit:
		t.Fatalf("gateway exited with %d before serving: %s", code, g.stderr)
	}
	t.Cleanup(func() {
		g.client.CloseIdleConnections()
		g.stop()
		select {
		case <-g.exit:
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return g
}

// do sends a request and decodes a JSON body into out (when not nil).
func (g *gatewayProcess) do(t *testing.T, method, path, contentType, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// Each call its own API key, so the per-key rate limits do not get in
	// the way of tests about something else.
	req.Header.Set("X-API-Key", testKey(int(g.keys.Add(1)-1)%testKeys))
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return resp
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func TestGatewayAPI(t *testing.T) {
	g := startGateway(t)

	if !strings.Contains(g.stdout.String(), "curl -s "+g.base+"/instances") {
		t.Errorf("banner does not show ready curl commands:\n%s", g.stdout)
	}

	var health map[string]string
	if resp := g.do(t, "GET", "/healthz", "", "", &health); resp.StatusCode != 200 || health["status"] != "ok" {
		t.Fatalf("healthz: %d %v", resp.StatusCode, health)
	}

	var list struct{ Items []Instance }
	if resp := g.do(t, "GET", "/instances", "", "", &list); resp.StatusCode != 200 {
		t.Fatalf("list: %d", resp.StatusCode)
	}
	if len(list.Items) != 3 || list.Items[0].ID != "inst-0001" || list.Items[0].Compartment != "prod" {
		t.Fatalf("seed instances = %+v", list.Items)
	}

	var dev struct{ Items []Instance }
	g.do(t, "GET", "/instances?compartment=dev", "", "", &dev)
	if len(dev.Items) != 1 || dev.Items[0].DisplayName != "build-1" {
		t.Fatalf("compartment filter = %+v", dev.Items)
	}

	var launched Instance
	resp := g.do(t, "POST", "/instances", "application/json", `{"compartment":"dev","displayName":"web-3"}`, &launched)
	if resp.StatusCode != 201 {
		t.Fatalf("launch: %d", resp.StatusCode)
	}
	if launched.ID != "inst-0004" || launched.State != stateRunning || launched.Shape != defaultShape ||
		net.ParseIP(launched.IPAddress) == nil || launched.Compartment != "dev" || launched.TimeCreated.IsZero() {
		t.Fatalf("launched = %+v", launched)
	}
	if loc := resp.Header.Get("Location"); loc != "/instances/inst-0004" {
		t.Errorf("Location = %q", loc)
	}

	var got Instance
	if resp := g.do(t, "GET", "/instances/inst-0004", "", "", &got); resp.StatusCode != 200 || got != launched {
		t.Fatalf("get: %d %+v, want %+v", resp.StatusCode, got, launched)
	}

	var terminated Instance
	if resp := g.do(t, "POST", "/instances/inst-0004/terminate", "", "", &terminated); resp.StatusCode != 200 || terminated.State != stateTerminated {
		t.Fatalf("terminate: %d %+v", resp.StatusCode, terminated)
	}
	// Terminating again is idempotent.
	if resp := g.do(t, "POST", "/instances/inst-0004/terminate", "", "", &terminated); resp.StatusCode != 200 || terminated.State != stateTerminated {
		t.Fatalf("terminate again: %d %+v", resp.StatusCode, terminated)
	}
	var running struct{ Items []Instance }
	g.do(t, "GET", "/instances?state=RUNNING", "", "", &running)
	if len(running.Items) != 3 {
		t.Fatalf("running after terminate = %d instances, want 3", len(running.Items))
	}

	// Each request was logged as one JSON line with its route and status.
	logs := g.stderr.String()
	for _, want := range []string{`"route":"POST /instances/{id}/terminate"`, `"route":"GET /instances/{id}","status":200`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestGatewayBadRequests(t *testing.T) {
	g := startGateway(t)
	tests := []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantDetail                            string
		wantAllow                             string
	}{
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404, wantDetail: "no route for GET /nope"},
		{name: "unknown instance", method: "GET", path: "/instances/inst-9999", wantStatus: 404, wantDetail: `instance "inst-9999" not found`},
		// Terminating looks the instance up first (gateway.yaml's resources
		// form): one that does not exist is denied like someone else's.
		{name: "terminate unknown", method: "POST", path: "/instances/x/terminate", wantStatus: 403, wantDetail: `rule "terminateInstance.Instance"`},
		{name: "wrong method", method: "DELETE", path: "/instances", wantStatus: 405, wantAllow: "GET, HEAD, POST", wantDetail: "method DELETE is not allowed"},
		{name: "malformed JSON", method: "POST", path: "/instances", contentType: "application/json", body: `{"compartment": "dev",}`, wantStatus: 400, wantDetail: "request body is not valid JSON"}, // the launch check reads the body
		{name: "truncated JSON", method: "POST", path: "/instances", body: `{"compartment": "de`, wantStatus: 400, wantDetail: "request body is not valid JSON"},
		{name: "empty body", method: "POST", path: "/instances", wantStatus: 400, wantDetail: "empty body"},
		{name: "wrong type", method: "POST", path: "/instances", body: `{"compartment": 5}`, wantStatus: 400, wantDetail: `field "compartment" must be a string`},
		{name: "unknown field", method: "POST", path: "/instances", body: `{"compartment":"dev","cpu":4}`, wantStatus: 400, wantDetail: `unknown field "cpu"`},
		{name: "trailing data", method: "POST", path: "/instances", body: `{"compartment":"dev"} {}`, wantStatus: 400, wantDetail: "request body is not valid JSON"},
		{name: "missing compartment", method: "POST", path: "/instances", body: `{}`, wantStatus: 400, wantDetail: `"compartment" is required`},
		{name: "bad compartment", method: "POST", path: "/instances", body: `{"compartment":"../etc"}`, wantStatus: 400, wantDetail: `"compartment" must be`},
		{name: "not JSON", method: "POST", path: "/instances", contentType: "text/plain", body: `hi`, wantStatus: 400, wantDetail: "request body is not valid JSON"},
		{name: "not JSON, well formed", method: "POST", path: "/instances", contentType: "text/plain", body: `{"compartment":"dev"}`, wantStatus: 415, wantDetail: "is not application/json"},
		{name: "body too large", method: "POST", path: "/instances", body: `{"displayName":"` + strings.Repeat("a", maxLaunchBody) + `"}`, wantStatus: 413, wantDetail: "body larger than 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p problem
			resp := g.do(t, tc.method, tc.path, tc.contentType, tc.body, &p)
			if resp.StatusCode != tc.wantStatus || p.Status != tc.wantStatus {
				t.Fatalf("status %d (body %d), want %d: %+v", resp.StatusCode, p.Status, tc.wantStatus, p)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tc.wantDetail)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
		})
	}
}

func TestGatewayUpstreamDown(t *testing.T) {
	// A gateway whose upstream refuses connections answers 502
	// problem+json and does not leak the dial error to the client.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	ln.Close()

	logs := &syncBuffer{}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	h := mustGateway(t, gatewayConfig{upstream: mustParseURL(t, deadURL), transport: transport,
		logger: tracing.NewLogger(logs), tracer: newTestTracer(t, logs)}, overrides{})
	srv := &http.Server{Handler: h}
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(gwLn)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+gwLn.Addr().String()+"/instances", nil)
	req.Header.Set("X-API-Key", "demo")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 502 || p.Detail != "platform: upstream call failed" {
		t.Fatalf("got %d %+v", resp.StatusCode, p)
	}
	if strings.Contains(string(body), "refused") {
		t.Errorf("client saw the dial error: %s", body)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the cause was not logged:\n%s", logs)
	}
}

func TestGatewayShutdown(t *testing.T) {
	g := startGateway(t)
	addr := strings.TrimPrefix(g.base, "http://")
	g.do(t, "GET", "/healthz", "", "", nil) // leaves an idle keep-alive connection
	g.stop()
	select {
	case code := <-g.exit:
		if code != 0 {
			t.Fatalf("exit code %d after shutdown; stderr:\n%s", code, g.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("gateway did not shut down")
	}
	g.exit <- 0 // for the cleanup
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("gateway still accepts connections after shutdown")
	}
	if !strings.Contains(g.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", g.stderr)
	}
}

func TestGatewayStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{"stray argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"bad duration", []string{"-shutdown-timeout", "soon"}, 2, "invalid value"},
		{"busy port", []string{"-addr", busy.Addr().String()}, 1, "address already in use"},
		{"bad address", []string{"-addr", "nonsense"}, 1, "missing port"},
		{"busy admin port", []string{"-addr", "127.0.0.1:0", "-admin", busy.Addr().String()}, 1, "gateway: admin: listen tcp"},
		{"route timeout for no route", []string{"-route-timeout", "GET /nope=1s"}, 2, `the document has no operation "GET /nope"`},
		{"route timeout without a duration", []string{"-route-timeout", "GET /instances"}, 2, "want PATTERN=DURATION"},
		{"route timeout not a duration", []string{"-route-timeout", "GET /instances=soon"}, 2, "is not a positive duration"},
		{"route timeout zero", []string{"-route-timeout", "GET /instances=0s"}, 2, "is not a positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			args := append([]string{"-admin", "127.0.0.1:0"}, tc.args...) // a test's own -admin wins
			code := run(context.Background(), args, &stdout, &stderr, func(string, string) { t.Error("gateway started") })
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr has a stack trace: %s", stderr.String())
			}
		})
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGatewayCorrelationAndMetrics(t *testing.T) {
	g := startGateway(t)

	req, _ := http.NewRequest("GET", g.base+"/instances/inst-0001", nil)
	req.Header.Set("X-Correlation-ID", "abc")
	req.Header.Set("X-API-Key", "demo")
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Values("X-Correlation-ID"); len(got) != 1 || got[0] != "abc" {
		t.Fatalf("X-Correlation-ID = %q, want [abc]", got)
	}

	// The access log line of that request carries the id and a trace id.
	var line map[string]any
	for _, l := range strings.Split(g.stderr.String(), "\n") {
		if strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, `"correlation_id":"abc"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["correlation_id"] != "abc" || len(fmt.Sprint(line["trace_id"])) != 32 {
		t.Fatalf("access log line = %v", line)
	}

	// An invalid id is replaced, and the replacement reaches the
	// upstream: its 404 problem carries the same id the client got.
	req, _ = http.NewRequest("GET", g.base+"/instances/none", nil)
	req.Header.Set("X-Correlation-ID", "bad id")
	req.Header.Set("X-API-Key", "demo")
	resp, err = g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		CorrelationID string `json:"correlation_id"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	id := resp.Header.Values("X-Correlation-ID")
	if len(id) != 1 || id[0] == "bad id" || p.CorrelationID != id[0] {
		t.Fatalf("client got id %q, upstream problem says %q", id, p.CorrelationID)
	}

	// /metrics serves the Prometheus format with the HTTP server metrics.
	resp, err = g.client.Get(g.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `http_server_request_duration_seconds_count{`) {
		t.Fatalf("/metrics: %d\n%.2000s", resp.StatusCode, body)
	}
}

// outage is the fault rules that fail every API call of the upstream.
const outage = `{"rules":[{"name":"outage","percent":100,"status":503}]}`

// injectedOutage is the detail of the outage's problem responses.
const injectedOutage = "faults: injected error (rule outage)"

// TestGatewayFaultSwitch drives the upstream's fault injector through the
// gateway's /admin/faults, as an admin would.
func TestGatewayFaultSwitch(t *testing.T) {
	g := startGateway(t)
	var set struct{ Rules []faults.Rule }
	if resp := g.do(t, "POST", "/admin/faults", "application/json", outage, &set); resp.StatusCode != 200 ||
		len(set.Rules) != 1 || set.Rules[0].Name != "outage" {
		t.Fatalf("set faults: %d %+v", resp.StatusCode, set)
	}
	var p problem
	resp := g.do(t, "GET", "/instances", "", "", &p)
	if resp.StatusCode != 503 || resp.Header.Get(faults.HeaderFault) != "outage" {
		t.Fatalf("with an outage: %d %s=%q %+v; want 503 tagged as injected", resp.StatusCode, faults.HeaderFault, resp.Header.Get(faults.HeaderFault), p)
	}
	if resp := g.do(t, "GET", "/healthz", "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("health checks are not API calls: %d", resp.StatusCode)
	}
	if resp := g.do(t, "POST", "/admin/faults", "application/json", `{"rules":[{"name":"slow","percent":100,"latency":"forever"}]}`, &p); resp.StatusCode != 400 || !strings.Contains(p.Detail, "latency") {
		t.Fatalf("bad latency: %d %+v", resp.StatusCode, p)
	}
	if resp := g.do(t, "POST", "/admin/faults", "application/json", `{"rules":[{"name":"x","percent":200,"status":503}]}`, &p); resp.StatusCode != 400 {
		t.Fatalf("percent 200 accepted: %d", resp.StatusCode)
	}
	if resp := g.do(t, "DELETE", "/admin/faults", "", "", &set); resp.StatusCode != 200 || len(set.Rules) != 0 {
		t.Fatalf("clear faults: %d %+v", resp.StatusCode, set)
	}
	if resp := g.do(t, "GET", "/instances", "", "", nil); resp.StatusCode != 200 || resp.Header.Get(faults.HeaderFault) != "" {
		t.Fatalf("after clearing: %d", resp.StatusCode)
	}
	if resp := g.do(t, "POST", "/admin/faults", "application/json", `{"rules":[{"name":"slow","percent":100,"latency":"20ms"}]}`, &set); resp.StatusCode != 200 || time.Duration(set.Rules[0].Latency) != 20*time.Millisecond {
		t.Fatalf("set latency: %d %+v", resp.StatusCode, set)
	}
	if resp := g.do(t, "GET", "/instances", "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("slow call: %d", resp.StatusCode)
	}
}

// trip makes the upstream fail and calls it until the breaker opens,
// returning the first rejection.
func trip(t *testing.T, g *gatewayProcess) (*http.Response, problem) {
	t.Helper()
	if resp := g.do(t, "POST", "/admin/faults", "application/json", outage, nil); resp.StatusCode != 200 {
		t.Fatalf("fault switch: %d", resp.StatusCode)
	}
	for range 6 {
		var p problem
		resp := g.do(t, "GET", "/instances/inst-0001", "", "", &p)
		if resp.StatusCode != 503 {
			t.Fatalf("failing upstream answered %d", resp.StatusCode)
		}
		if p.Detail == "breaker: open" {
			return resp, p
		}
	}
	t.Fatal("the breaker did not open after 6 failing requests (18 attempts)")
	return nil, problem{}
}

func TestGatewayBreaker(t *testing.T) {
	g := startGateway(t)
	var before struct{ Items []Instance }
	g.do(t, "GET", "/instances", "", "", &before) // remembered as the last good list

	resp, p := trip(t, g)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After %q, want the seconds until half-open (1..10)", resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || p.Status != 503 {
		t.Errorf("rejection: %s %+v", ct, p)
	}

	// The list is served from the last good answer, flagged.
	var list struct{ Items []Instance }
	resp = g.do(t, "GET", "/instances", "", "", &list)
	// Each operation has its own breaker: GET /instances's is still
	// closed, so the call fails at the upstream, and the fallback says so.
	if resp.StatusCode != 200 || resp.Header.Get(fallbackHeader) != "breaker: response status 503" || len(list.Items) != len(before.Items) {
		t.Fatalf("fallback: %d %q %d items", resp.StatusCode, resp.Header.Get(fallbackHeader), len(list.Items))
	}
	if resp.Header.Get("Age") == "" {
		t.Error("fallback without Age")
	}
	// Launches have a breaker of their own: they reach the failing
	// upstream (once each: a POST is not retried) until it opens too,
	// then they are rejected at once, without being sent.
	for i := 0; ; i++ {
		resp := g.do(t, "POST", "/instances", "application/json", `{"compartment":"dev"}`, &p)
		if resp.StatusCode != 503 {
			t.Fatalf("launch %d while the upstream fails: %d %+v", i+1, resp.StatusCode, p)
		}
		if p.Detail == "breaker: open" {
			if i < 10 {
				t.Fatalf("the launch breaker opened after %d failures, want 10 (minCalls)", i)
			}
			break
		}
		if p.Detail != injectedOutage || i == 15 {
			t.Fatalf("launch %d: %+v, want the upstream's fault until the breaker opens", i+1, p)
		}
	}

	// The opening was logged once, and the metrics show it.
	if n := strings.Count(g.stderr.String(), `"msg":"breaker opened"`); n != 2 {
		t.Errorf("%d 'breaker opened' log lines, want 2 (getInstance, launchInstance):\n%s", n, g.stderr)
	}
	resp, err := g.client.Get(g.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^paved_breaker_calls_total\{.*outcome="rejected",paved_breaker_name="getInstance"\} [1-9]`),
		regexp.MustCompile(`(?m)^paved_breaker_state\{.*paved_breaker_name="getInstance",state="open"\} 1$`),
		regexp.MustCompile(`(?m)^paved_retry_attempts_total\{.*outcome="retry",paved_retry_name="getInstance"\} [1-9]`),
	} {
		if !want.Match(body) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// An open breaker ends the retries at once: with a 5s open time, below
// the retrier's cap on server hints, a request during an outage is
// answered 503 with Retry-After at once instead of sleeping until the
// half-open probe.
func TestGatewayOpenBreakerAnswersAtOnce(t *testing.T) {
	g := startGateway(t, "-breaker-open", "5s")
	trip(t, g)
	var p problem
	start := time.Now()
	resp := g.do(t, "GET", "/instances/inst-0002", "", "", &p)
	took := time.Since(start)
	if resp.StatusCode != 503 || p.Detail != "breaker: open" {
		t.Fatalf("during the outage: %d %+v, want 503 breaker: open", resp.StatusCode, p)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 5 {
		t.Fatalf("Retry-After %q, want the seconds until half-open (1..5)", resp.Header.Get("Retry-After"))
	}
	if took >= 4*time.Second {
		t.Fatalf("the rejection took %v: the retries waited for the half-open probe", took)
	}
}

func TestGatewayBreakerRecovers(t *testing.T) {
	g := startGateway(t, "-breaker-open", "200ms")
	trip(t, g)
	g.do(t, "DELETE", "/admin/faults", "", "", nil)
	// While the breaker is open, a request is answered at once with 503
	// and Retry-After: the retries do not wait for the half-open probe.
	// Once the open time has passed, the probe reaches the healed upstream
	// and the breaker closes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := g.do(t, "GET", "/instances/inst-0001", "", "", nil)
		if resp.StatusCode == 200 {
			return
		}
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("while open: %d, Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not close within 10s of the upstream healing")
		}
		time.Sleep(50 * time.Millisecond) // poll: the open time is 200ms
	}
}

func TestGatewayRateLimit(t *testing.T) {
	g := startGateway(t)
	launch := func(key string) *http.Response {
		req, _ := http.NewRequest("POST", g.base+"/instances", strings.NewReader(`{"compartment":"dev"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 2 {
		resp := launch("demo")
		if resp.StatusCode != 201 || !slices.Contains(resp.Header.Values("RateLimit-Policy"), `"launch";q=2;w=60`) {
			t.Fatalf("launch %d: %d, policies %q", i+1, resp.StatusCode, resp.Header.Values("RateLimit-Policy"))
		}
	}
	resp := launch("demo")
	if resp.StatusCode != 429 {
		t.Fatalf("third launch: %d, want 429", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 30 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if !slices.ContainsFunc(resp.Header.Values("RateLimit"), func(v string) bool { return strings.HasPrefix(v, `"launch";r=0;t=`) }) {
		t.Fatalf("RateLimit %q", resp.Header.Values("RateLimit"))
	}
	// Another key has its own bucket; reads have their own policy.
	if resp := launch("other"); resp.StatusCode != 201 {
		t.Fatalf("another key: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", g.base+"/instances", nil)
	req.Header.Set("X-API-Key", "demo")
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !slices.ContainsFunc(resp.Header.Values("RateLimit-Policy"), func(v string) bool { return strings.HasPrefix(v, `"api";q=20`) }) {
		t.Fatalf("GET with a limited launch key: %d %q", resp.StatusCode, resp.Header.Values("RateLimit-Policy"))
	}
	// The limited launch never reached the upstream: 2 + 1 launched.
	var list struct{ Items []Instance }
	g.do(t, "GET", "/instances?compartment=dev", "", "", &list)
	if len(list.Items) != 1+3 {
		t.Fatalf("%d dev instances, want 4 (1 seeded + 3 launched)", len(list.Items))
	}
}

// blockingUpstream is an upstream that holds every request until the
// caller gives up, counting them and telling the test each arrival.
func blockingUpstream(t *testing.T) (u *url.URL, hits *atomic.Int64, arrived chan struct{}) {
	t.Helper()
	hits = new(atomic.Int64)
	arrived = make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return mustParseURL(t, srv.URL), hits, arrived
}

// TestGatewayClientCancelIsNeverSuccess is the regression test for an
// error path that wrote nothing: when the client canceled, the proxy's
// error handler returned without writing and net/http sent an implicit
// 200 OK with an empty body, which the access log recorded as a success.
func TestGatewayClientCancelIsNeverSuccess(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			upstream, _, arrived := blockingUpstream(t)
			logs := &syncBuffer{}
			transport := &http.Transport{}
			defer transport.CloseIdleConnections()
			h := mustGateway(t, gatewayConfig{upstream: upstream, transport: transport,
				logger: tracing.NewLogger(logs), tracer: newTestTracer(t, logs)}, overrides{})

			ctx, cancel := context.WithCancel(t.Context())
			req := httptest.NewRequestWithContext(ctx, method, "/instances", strings.NewReader(`{"compartment":"dev"}`))
			req.Header.Set("X-API-Key", "demo")
			req.Header.Set("Idempotency-Key", idempotency.NewKey())
			rw := paved.NewResponseWriter(httptest.NewRecorder())
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.ServeHTTP(rw, req)
			}()
			<-arrived // the upstream has the request
			cancel()  // and the client goes away
			<-done
			if !rw.WroteHeader() || rw.Status() != paved.StatusClientClosedRequest {
				t.Fatalf("after the client canceled: written %v, status %d; want 499 written", rw.WroteHeader(), rw.Status())
			}
			if !strings.Contains(logs.String(), `"status":499`) {
				t.Fatalf("the access log does not show 499:\n%s", logs)
			}
		})
	}
}

// TestGatewayRouteDeadline is the regression test for proxied calls with
// no overall deadline: a request to a stalled upstream waited for every
// retry's own timeout (3 x 10s). Now the route's deadline ends the call,
// its retries included, with 504.
func TestGatewayRouteDeadline(t *testing.T) {
	upstream, hits, _ := blockingUpstream(t)
	logs := &syncBuffer{}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	toUpstream, fallback, err := newUpstreamTransport(upstreamConfig{base: base,
		logger: tracing.NewLogger(logs), openDuration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const deadline = 100 * time.Millisecond
	h := mustGateway(t, gatewayConfig{upstream: upstream, transport: toUpstream, fallback: fallback,
		logger: tracing.NewLogger(logs), tracer: newTestTracer(t, logs)},
		overrides{timeouts: routeTimeouts{"GET /instances/{id}": deadline}})
	srv := httptest.NewServer(h)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second} // fails, not hangs, without a deadline
	defer client.CloseIdleConnections()
	start := time.Now()
	req, _ := http.NewRequest("GET", srv.URL+"/instances/inst-0001", nil)
	req.Header.Set("X-API-Key", "demo")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer within 5s: %v", err)
	}
	elapsed := time.Since(start)
	var p problem
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || p.Status != 504 || p.Detail != "context deadline exceeded" {
		t.Fatalf("got %d %+v, want 504 problem", resp.StatusCode, p)
	}
	if elapsed < deadline || elapsed > 2*time.Second {
		t.Fatalf("answered after %v, want just after the %v deadline", elapsed, deadline)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d upstream attempts, want 1: no retry starts past the deadline", n)
	}
	// The other operations keep the document's timeouts.
	spec, err := prepare(embeddedSpec, overrides{upstream: upstream.String(), timeouts: routeTimeouts{"GET /instances/{id}": deadline}})
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	top := doc.Content[0]
	if got := get(top, "paths", "/instances/{id}", "get", "x-platform", "timeout"); got == nil || got.Value != "100ms" {
		t.Fatalf("GET /instances/{id} timeout %v, want 100ms", got)
	}
	if got := get(top, "paths", "/instances", "get", "x-platform", "timeout"); got != nil {
		t.Fatalf("GET /instances has a timeout of its own, %q: want the root's", got.Value)
	}
	if got := get(top, "x-platform", "timeout"); got == nil || got.Value != "5s" {
		t.Fatalf("the root timeout is %v, want 5s", got)
	}
}

// TestGatewayRouteTimeoutFlag sets a route's deadline on the command line
// and slows the upstream past it.
func TestGatewayRouteTimeoutFlag(t *testing.T) {
	g := startGateway(t, "-route-timeout", "GET /instances=200ms")
	if resp := g.do(t, "POST", "/admin/faults", "application/json", `{"rules":[{"name":"slow","percent":100,"latency":"3s"}]}`, nil); resp.StatusCode != 200 {
		t.Fatalf("fault switch: %d", resp.StatusCode)
	}
	start := time.Now()
	var p problem
	resp := g.do(t, "GET", "/instances", "", "", &p)
	if resp.StatusCode != 504 || p.Status != 504 || time.Since(start) > 2*time.Second {
		t.Fatalf("slow upstream: %d %+v after %v; want 504 after about 200ms", resp.StatusCode, p, time.Since(start))
	}
	g.do(t, "DELETE", "/admin/faults", "", "", nil)
}

// newTestTracer returns a tracer that logs (its access log included) as
// JSON lines to w.
func newTestTracer(t *testing.T, w io.Writer) *tracing.Tracer {
	t.Helper()
	tr, err := tracing.New(tracing.WithLogger(tracing.NewLogger(w)))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
