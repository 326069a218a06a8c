package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/httpx"
)

// authzStub plays the inner authz middleware: it fills the call record
// the audit middleware put in the context.
func authzStub(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ci := callinfo.From(r.Context()); ci != nil {
			ci.Operation = r.Pattern
			ci.PrincipalID, ci.PrincipalType, ci.PrincipalTenant = "alice", "user", "acme"
			ci.Decision, ci.Rule, ci.Reason = "allow", "owners-launch", "principal.tenant == resource.tenant"
			ci.Resources = append(ci.Resources, callinfo.Resource{Kind: "instance", ID: r.PathValue("id")})
		}
		next.ServeHTTP(w, r)
	})
}

// launch reads a JSON request and answers JSON.
var launch = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(b, &in)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Tenant", "acme")
	w.Header().Set("Set-Cookie", "session=s3cr3t")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"id":"i-1","ipAddress":"10.0.0.7","password":"pw-out","shape":`+strconv.Quote(toString(in["shape"]))+`}`)
})

func toString(v any) string {
	s, _ := v.(string)
	return s
}

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

// withIDs plays tracing.Middleware: a correlation id and a span context.
func withIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled})
		ctx := trace.ContextWithSpanContext(httpx.WithCorrelationID(r.Context(), "corr-1"), sc)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// serveOne sends one launch request through a mux with em's middleware
// on the route and returns the response.
func serveOne(t testing.TB, em *audit.Emitter, body string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /instances/{id}", em.Middleware(authzStub(launch)))
	req := httptest.NewRequest(http.MethodPost, "/instances/i-1?dry=1", strings.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cli/1.0")
	req.Header.Set("Authorization", "Bearer tok-123")
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("X-Tenant", "acme")
	rr := httptest.NewRecorder()
	withIDs(mux).ServeHTTP(rr, req)
	return rr.Result()
}

// jsonOf decodes an event's JSON for checks by path.
func jsonOf(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at returns the value at a dotted path, nil when missing.
func at(m any, path string) any {
	for _, k := range strings.Split(path, ".") {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func TestMiddlewareLevels(t *testing.T) {
	const body = `{"shape":"small","password":"pw-in","card":{"number":"4111"}}`
	cases := []struct {
		name   string
		level  audit.Level
		events int
		want   map[string]any // path -> value; nil value means absent
	}{
		{"None", audit.None, 0, nil},
		{"Metadata", audit.Metadata, 1, map[string]any{
			"data.stage":                  "ResponseComplete",
			"data.principal.id":           "alice",
			"data.principal.type":         "user",
			"data.principal.tenant":       "acme",
			"data.authorization.decision": "allow",
			"data.authorization.rule":     "owners-launch",
			"data.authorization.reason":   "principal.tenant == resource.tenant",
			"data.action.protocol":        "http",
			"data.action.operation":       "POST /instances/{id}",
			"data.action.method":          "POST",
			"data.action.path":            "/instances/i-1",
			"data.outcome.code":           201.0,
			"data.outcome.result":         "success",
			"data.client.ip":              "192.0.2.10",
			"data.client.userAgent":       "cli/1.0",
			"data.correlationId":          "corr-1",
			"data.traceId":                testTraceID.String(),
			"subject":                     "instance/i-1",
			"source":                      "gateway",
			"type":                        audit.DefaultType,
			"sequence":                    "1",
			"data.request":                nil,
			"data.response":               nil,
		}},
		{"Request", audit.Request, 1, map[string]any{
			"data.request.body.shape":            "small",
			"data.request.body.password":         audit.Redacted,
			"data.request.body.card.number":      audit.Redacted,
			"data.request.headers.X-Tenant":      "acme",
			"data.request.headers.Authorization": nil,
			"data.request.headers.Cookie":        nil,
			"data.request.contentType":           "application/json",
			"data.request.size":                  float64(len(body)),
			"data.response":                      nil,
		}},
		{"RequestResponse", audit.RequestResponse, 1, map[string]any{
			"data.request.body.shape":          "small",
			"data.response.body.ipAddress":     "10.0.0.7",
			"data.response.body.password":      audit.Redacted,
			"data.response.headers.X-Tenant":   "acme",
			"data.response.headers.Set-Cookie": nil,
			"data.response.contentType":        "application/json",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := newMemSink("mem")
			em, err := audit.New("gateway", audit.WithSink(sink), audit.WithLevel(tc.level),
				audit.WithHeaders("X-Tenant"), audit.WithRedact("card.number"))
			if err != nil {
				t.Fatal(err)
			}
			resp := serveOne(t, em, body)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d", resp.StatusCode)
			}
			closeEmitter(t, em)
			evs := sink.raw()
			if len(evs) != tc.events {
				t.Fatalf("%d events, want %d", len(evs), tc.events)
			}
			sink.events(t) // validates
			if tc.events == 0 {
				return
			}
			raw := string(evs[0])
			for _, secret := range []string{"tok-123", "session=", "pw-in", "pw-out", "4111"} {
				if strings.Contains(raw, secret) {
					t.Errorf("event contains %q:\n%s", secret, raw)
				}
			}
			m := jsonOf(t, evs[0])
			for path, want := range tc.want {
				if got := at(m, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			if d, _ := at(m, "data.duration").(float64); d <= 0 {
				t.Errorf("duration %v", at(m, "data.duration"))
			}
		})
	}
}

func TestMiddlewareRoutes(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("gateway", audit.WithSink(sink),
		audit.WithRoute("POST /instances/{id}", audit.Route{Level: audit.RequestResponse, Type: "com.example.instances.launch",
			Fields: map[string]string{"ipAddress": "response.body.ipAddress"}}),
		audit.WithRoute("GET /healthz", audit.Route{Level: audit.None}),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /instances/{id}", em.Middleware(launch))
	mux.Handle("GET /healthz", em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	mux.Handle("GET /instances", em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	for _, tc := range []struct{ method, path string }{
		{"POST", "/instances/i-1"}, {"GET", "/healthz"}, {"GET", "/instances"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"shape":"s"}`))
		req.Header.Set("Content-Type", "application/json")
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}
	closeEmitter(t, em)
	evs := sink.raw()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2 (health is None)", len(evs))
	}
	launchEv, list := jsonOf(t, evs[0]), jsonOf(t, evs[1])
	if at(launchEv, "type") != "com.example.instances.launch" || at(launchEv, "data.additionalFields.ipAddress") != "10.0.0.7" ||
		at(launchEv, "data.response.body.id") != "i-1" {
		t.Errorf("launch event: %s", evs[0])
	}
	if at(list, "type") != audit.DefaultType || at(list, "data.request") != nil || at(list, "data.action.operation") != "GET /instances" ||
		at(list, "sequence") != "2" {
		t.Errorf("list event: %s", evs[1])
	}
}

func TestMiddlewareBodyCaps(t *testing.T) {
	cases := []struct {
		name        string
		ct          string
		body        string
		wantBody    bool
		wantTrunc   bool
		wantSize    float64
		wantCT      string
		wantInvalid bool
	}{
		{"fits", "application/json", `{"a":"0123456789"}`, true, false, 18, "application/json", false},
		{"over the cap", "application/json", `{"a":"0123456789012345678901234567890123456789"}`, false, true, 48, "application/json", false},
		{"plus json", "application/merge-patch+json; charset=utf-8", `{"a":1}`, true, false, 7, "application/merge-patch+json; charset=utf-8", false},
		{"not JSON", "text/plain", `password=hunter2`, false, false, 16, "text/plain", false},
		{"bad JSON", "application/json", `{"a":`, false, false, 5, "application/json", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := newMemSink("mem")
			em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithLevel(audit.RequestResponse), audit.WithMaxBodyBytes(32))
			if err != nil {
				t.Fatal(err)
			}
			echo := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
			}))
			req := httptest.NewRequest("PUT", "/x", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ct)
			rr := httptest.NewRecorder()
			echo.ServeHTTP(rr, req)
			if rr.Body.String() != tc.body {
				t.Fatalf("handler saw %q, want %q", rr.Body.String(), tc.body)
			}
			closeEmitter(t, em)
			evs := sink.raw()
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			sink.events(t)
			m := jsonOf(t, evs[0])
			for _, side := range []string{"request", "response"} {
				p := "data." + side + "."
				if got := at(m, p+"body") != nil; got != tc.wantBody {
					t.Errorf("%s body recorded %v, want %v: %s", side, got, tc.wantBody, evs[0])
				}
				if got, _ := at(m, p+"truncated").(bool); got != tc.wantTrunc {
					t.Errorf("%s truncated %v", side, got)
				}
				if got := at(m, p+"size"); got != tc.wantSize {
					t.Errorf("%s size %v, want %v", side, got, tc.wantSize)
				}
				if got := at(m, p+"contentType"); got != tc.wantCT {
					t.Errorf("%s contentType %v", side, got)
				}
			}
			if strings.Contains(string(evs[0]), "hunter2") {
				t.Errorf("non-JSON body recorded: %s", evs[0])
			}
		})
	}
}

// The wrapper keeps streaming, http.ResponseController and Hijack working
// at the level that copies bodies.
func TestMiddlewareStreaming(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithLevel(audit.RequestResponse))
	if err != nil {
		t.Fatal(err)
	}
	flushed := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("GET /stream", em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"part":1`)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-flushed // the client read the first part before the handler returned
		io.WriteString(w, `}`)
	})))
	// The server does not wait for a hijacked connection's handler, so
	// the test waits for the middleware (and its event) to finish.
	hijackDone := make(chan struct{})
	hijack := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		brw.Flush()
	}))
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		defer close(hijackDone)
		hijack.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first := make([]byte, len(`{"part":1`))
	if _, err := io.ReadFull(br, first); err != nil {
		t.Fatal(err)
	}
	close(flushed)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(first)+string(rest) != `{"part":1}` {
		t.Fatalf("body %q", string(first)+string(rest))
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	hresp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(hresp.Body)
	conn.Close()
	if string(hb) != "hi" {
		t.Fatalf("hijacked body %q", hb)
	}
	<-hijackDone
	srv.Close()
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	byPath := map[string]*audit.Event{}
	for _, ev := range evs {
		byPath[ev.Data.Action.Path] = ev
	}
	if ev := byPath["/stream"]; ev == nil || string(ev.Data.Response.Body) != `{"part":1}` || ev.Data.Outcome.Code != 200 {
		t.Errorf("stream event: %+v", ev)
	}
	if ev := byPath["/hijack"]; ev == nil || ev.Data.Outcome.Code != http.StatusSwitchingProtocols {
		t.Errorf("hijack event: %+v", ev)
	}
}

func TestMiddlewarePanic(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("api", quiet, audit.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	h := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("panic not passed on")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != 1 || evs[0].Data.Outcome.Code != 500 || evs[0].Data.Outcome.Error != "INTERNAL" {
		t.Fatalf("events %+v", evs)
	}
}

func TestMiddlewareOutcome(t *testing.T) {
	cases := []struct {
		status int
		result string
		kind   string
	}{
		{200, "success", ""}, {204, "success", ""}, {302, "success", ""},
		{400, "failure", "INVALID_ARGUMENT"}, {401, "failure", "UNAUTHENTICATED"}, {403, "failure", "PERMISSION_DENIED"},
		{404, "failure", "NOT_FOUND"}, {429, "failure", "RESOURCE_EXHAUSTED"}, {500, "failure", "INTERNAL"},
		{503, "failure", "UNAVAILABLE"}, {504, "failure", "DEADLINE_EXCEEDED"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			sink := newMemSink("mem")
			em, err := audit.New("api", quiet, audit.WithSink(sink))
			if err != nil {
				t.Fatal(err)
			}
			em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) })).
				ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			closeEmitter(t, em)
			evs := sink.events(t)
			if len(evs) != 1 {
				t.Fatal(len(evs))
			}
			o := evs[0].Data.Outcome
			if o.Code != tc.status || o.Result != tc.result || o.Error != tc.kind {
				t.Errorf("outcome %+v", o)
			}
		})
	}
}

func TestMiddlewareClientIP(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithClientIP(func(r *http.Request) (string, error) {
		if v := r.Header.Get("X-Real-IP"); v != "" {
			return v, nil
		}
		return "", errors.New("no header")
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := em.Middleware(http.NotFoundHandler())
	for _, real := range []string{"203.0.113.9", ""} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "[2001:db8::1]:443"
		if real != "" {
			req.Header.Set("X-Real-IP", real)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != 2 || evs[0].Data.Client.IP != "203.0.113.9" || evs[1].Data.Client.IP != "2001:db8::1" {
		t.Fatalf("client ips %+v %+v", evs[0].Data.Client, evs[1].Data.Client)
	}
}

func TestMiddlewareFilterAndNil(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("api", quiet, audit.WithSink(sink), audit.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))
	if err != nil {
		t.Fatal(err)
	}
	h := em.Middleware(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	closeEmitter(t, em)
	if n := len(sink.events(t)); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	var nilEm *audit.Emitter
	rr := httptest.NewRecorder()
	nilEm.Middleware(http.NotFoundHandler()).ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if rr.Code != 404 {
		t.Fatal(rr.Code)
	}
}

var _ = context.Background

// TestMiddlewareEnvelope checks the envelope of the middleware's events
// over enough calls for sequences of several digits: each id is a
// distinct UUIDv7 holding the event's time, the sequences count from 1,
// and the one resource the call looked up is the subject and the data's
// only resource.
func TestMiddlewareEnvelope(t *testing.T) {
	const calls = 120
	sink := newMemSink("mem")
	em, err := audit.New("compute", audit.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	for range calls {
		if res := serveOne(t, em, `{"shape":"small"}`); res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != calls {
		t.Fatalf("%d events, want %d", len(evs), calls)
	}
	seen := make(map[string]bool, calls)
	for i, ev := range evs {
		if want := strconv.Itoa(i + 1); ev.Sequence != want {
			t.Errorf("event %d: sequence %q, want %q", i, ev.Sequence, want)
		}
		u, err := uuid.Parse(ev.ID)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != ev.ID {
			t.Fatalf("event %d: id %q: version %v variant %v %v", i, ev.ID, u.Version(), u.Variant(), err)
		}
		sec, nsec := u.Time().UnixTime()
		if ms := sec*1000 + nsec/1e6; ms != ev.Time.UnixMilli() {
			t.Errorf("event %d: id %s holds %d ms, event time %d", i, ev.ID, ms, ev.Time.UnixMilli())
		}
		if seen[ev.ID] {
			t.Errorf("event %d: id %s repeated", i, ev.ID)
		}
		seen[ev.ID] = true
		if ev.Subject != "instance/i-1" || len(ev.Data.Resources) != 1 ||
			ev.Data.Resources[0] != (audit.Resource{Kind: "instance", ID: "i-1"}) {
			t.Errorf("event %d: subject %q, resources %+v", i, ev.Subject, ev.Data.Resources)
		}
	}
}
