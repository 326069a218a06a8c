package audit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/audit"
)

func TestFields(t *testing.T) {
	sink := newMemSink("mem")
	em, err := audit.New("api", audit.WithSink(sink), audit.WithHeaders("X-Tenant"),
		audit.WithFields(map[string]string{
			"who":      "principal.id + '@' + principal.tenant",
			"route":    "request.pattern",
			"status":   "response.status",
			"tenant":   "request.headers['X-Tenant']",
			"ip":       "response.body.ipAddress",
			"missing":  "response.body.nothing",
			"deep":     "response.body.nothing.deeper",
			"index":    "request.body.items[5]",
			"count":    "len(request.body.items)",
			"big":      "request.body.n > 3",
			"overlaid": "'global'",
		}),
		audit.WithRoute("POST /instances/{id}", audit.Route{Fields: map[string]string{"overlaid": "'route'"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /instances/{id}", em.Middleware(authzStub(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		io.WriteString(w, `{"ipAddress":"10.0.0.9"}`)
	}))))
	req := httptest.NewRequest("POST", "/instances/i-9", strings.NewReader(`{"items":[1,2],"n":4}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tenant", "acme")
	mux.ServeHTTP(httptest.NewRecorder(), req)
	closeEmitter(t, em)
	evs := sink.raw()
	if len(evs) != 1 {
		t.Fatal(len(evs))
	}
	m := jsonOf(t, evs[0])
	want := map[string]any{
		"who": "alice@acme", "route": "POST /instances/{id}", "status": 202.0, "tenant": "acme",
		"ip": "10.0.0.9", "missing": nil, "count": 2.0, "big": true, "overlaid": "route",
	}
	fields, _ := at(m, "data.additionalFields").(map[string]any)
	for k, v := range want {
		got, ok := fields[k]
		if !ok || got != v {
			t.Errorf("field %s = %#v (present %v), want %#v", k, got, ok, v)
		}
	}
	for _, k := range []string{"deep", "index"} {
		if msg, _ := at(fields[k], "error").(string); msg == "" || strings.Contains(msg, "\n") {
			t.Errorf("field %s = %#v, want an error marker", k, fields[k])
		}
	}
	// Metadata level: the bodies were read for the fields but are not in
	// the event.
	if at(m, "data.request") != nil || at(m, "data.response") != nil {
		t.Errorf("bodies recorded at Metadata level: %s", evs[0])
	}
}

func TestFieldsCompileErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"syntax":        {"x": "request.method +"},
		"unknown var":   {"x": "nosuch.thing"},
		"unknown field": {"x": "request.nosuch"},
		"type mismatch": {"x": "response.status + 'a'"},
		"empty name":    {"": "request.method"},
	}
	for name, fields := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := audit.New("api", audit.WithSink(newMemSink("mem")), audit.WithFields(fields))
			if err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Fatalf("New: %v, want an audit: error", err)
			}
		})
	}
}
