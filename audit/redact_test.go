package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/audit"
)

// recordBody sends body through a RequestResponse-level middleware that
// echoes it, and returns the events' recorded request bodies, one per
// sink.
func recordBody(t *testing.T, body string, opts ...audit.Option) map[string]any {
	t.Helper()
	sink := newMemSink("mem")
	em, err := audit.New("api", append([]audit.Option{audit.WithSink(sink), audit.WithLevel(audit.Request)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1<<16)
		for {
			if _, err := r.Body.Read(b); err != nil {
				break
			}
		}
	}))
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), req)
	closeEmitter(t, em)
	evs := sink.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	var v map[string]any
	if err := json.Unmarshal(evs[0].Data.Request.Body, &v); err != nil {
		t.Fatalf("body %s: %v", evs[0].Data.Request.Body, err)
	}
	return v
}

func TestRedactBody(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		redact []string
		want   string // the recorded body, re-encoded
	}{
		{"default names", `{"user":"al","password":"p","Secret":"s","accessToken":"t","client_secret":"c","apiKey":"k"}`, nil,
			`{"Secret":"[REDACTED]","accessToken":"[REDACTED]","apiKey":"[REDACTED]","client_secret":"[REDACTED]","password":"[REDACTED]","user":"al"}`},
		{"nested and in arrays", `{"users":[{"name":"a","PASSWORD":"x"},{"name":"b","auth":{"token":{"v":1}}}]}`, nil,
			`{"users":[{"PASSWORD":"[REDACTED]","name":"a"},{"auth":{"token":"[REDACTED]"},"name":"b"}]}`},
		{"user names", `{"ssn":"1","SSN2":"2","nested":{"Ssn":"3"}}`, []string{"ssn"},
			`{"SSN2":"2","nested":{"Ssn":"[REDACTED]"},"ssn":"[REDACTED]"}`},
		{"user paths", `{"card":{"number":"4111","brand":"visa"},"number":7,"items":[{"card":{"number":"5500"}}]}`, []string{"card.number", "items.card.number"},
			`{"card":{"brand":"visa","number":"[REDACTED]"},"items":[{"card":{"number":"[REDACTED]"}}],"number":7}`},
		{"path is case-insensitive", `{"Card":{"Number":"4111"}}`, []string{"card.number"}, `{"Card":{"Number":"[REDACTED]"}}`},
		{"path only from the root", `{"x":{"card":{"number":"4111"}}}`, []string{"card.number"}, `{"x":{"card":{"number":"4111"}}}`},
		{"numbers kept exact", `{"big":12345678901234567890,"f":1.50}`, nil, `{"big":12345678901234567890,"f":1.50}`},
		{"numbers beyond float64 become strings", `{"huge":1e400,"neg":-1e999}`, nil, `{"huge":"1e400","neg":"-1e999"}`},
		{"non-string secrets", `{"password":{"a":[1,2]},"token":null,"secret":42}`, nil,
			`{"password":"[REDACTED]","secret":"[REDACTED]","token":"[REDACTED]"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := recordBody(t, tc.body, audit.WithRedact(tc.redact...))
			b, _ := json.Marshal(got)
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(want)
			if string(b) != string(wb) {
				t.Errorf("recorded %s\nwant     %s", b, wb)
			}
		})
	}
}

func TestRedactHeaders(t *testing.T) {
	for _, name := range []string{"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-API-Key", "X-Auth-Token",
		"X-Amz-Security-Token", "X-Session-Id", "X-Client-Secret"} {
		t.Run(name, func(t *testing.T) {
			_, err := audit.New("api", audit.WithSink(newMemSink("mem")), audit.WithHeaders("X-Tenant", name))
			if err == nil || !strings.Contains(err.Error(), "never recorded") {
				t.Fatalf("WithHeaders(%q): %v, want an error", name, err)
			}
		})
	}
}

func hmacOf(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

func TestHMAC(t *testing.T) {
	emitterKey := []byte("emitter-key-0123456789")
	sinkKey := []byte("sink-key-0123456789abc")
	masked, global, own := newMemSink("masked"), newMemSink("global"), newMemSink("own")
	// "masked" has no key of its own, but WithHMAC applies to it: use a
	// second emitter for plain masking.
	em, err := audit.New("api",
		audit.WithSink(global),
		audit.WithSink(own, audit.WithSinkHMAC(sinkKey)),
		audit.WithHMAC(emitterKey), audit.WithLevel(audit.Request),
		audit.WithFields(map[string]string{"pw": "request.body.password"}))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := audit.New("api", audit.WithSink(masked), audit.WithLevel(audit.Request))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*audit.Emitter{em, plain} {
		h := e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 512)
			r.Body.Read(b)
		}))
		for range 2 {
			req := httptest.NewRequest("POST", "/", strings.NewReader(`{"password":"hunter2","n":{"token":7}}`))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		closeEmitter(t, e)
	}
	check := func(s *memSink, pw, tok string) {
		t.Helper()
		evs := s.events(t)
		if len(evs) != 2 {
			t.Fatalf("%s: %d events", s.name, len(evs))
		}
		for _, ev := range evs {
			var body map[string]any
			json.Unmarshal(ev.Data.Request.Body, &body)
			if body["password"] != pw || at(body, "n.token") != tok {
				t.Errorf("%s: body %s, want password %s, token %s", s.name, ev.Data.Request.Body, pw, tok)
			}
			if strings.Contains(string(ev.Data.Request.Body), "hunter2") {
				t.Errorf("%s: value readable", s.name)
			}
			// Expressions see masked values, whatever the sink.
			if f := ev.Data.AdditionalFields["pw"]; s.name != "masked" && f != audit.Redacted {
				t.Errorf("%s: field pw = %v", s.name, f)
			}
		}
	}
	check(masked, audit.Redacted, audit.Redacted)
	check(global, hmacOf(emitterKey, "hunter2"), hmacOf(emitterKey, "7"))
	check(own, hmacOf(sinkKey, "hunter2"), hmacOf(sinkKey, "7"))
}
