package audit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/audit"
)

// FuzzBody sends any body through the middleware at the
// RequestResponse level: the event stays a valid CloudEvent, and no
// member named like a secret keeps its value.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{"password":"x"}`, `[{"a":{"token":1}}]`, `{"card":{"number":"4111"}}`, `"str"`, `12e400`, `{"a":`, `null`,
		`{"Password":{"nested":["v"]},"k":[1,2,{"secret":null}]}`, "\xff\xfe", `{"a":"\u0000"}`, `{"x":1}{"y":2}`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`password=1`, "text/plain")
	f.Fuzz(func(t *testing.T, body, ct string) {
		sink := newMemSink("mem")
		em, err := audit.New("fuzz", audit.WithSink(sink), audit.WithLevel(audit.RequestResponse),
			audit.WithRedact("card.number"), audit.WithMaxBodyBytes(4096),
			audit.WithFields(map[string]string{"f": "request.body.a"}))
		if err != nil {
			t.Fatal(err)
		}
		h := em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 512)
			w.Header().Set("Content-Type", ct)
			for {
				n, err := r.Body.Read(buf)
				w.Write(buf[:n])
				if err != nil {
					break
				}
			}
		}))
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		h.ServeHTTP(httptest.NewRecorder(), req)
		closeEmitter(t, em)
		evs := sink.events(t) // validates each one
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		for _, p := range []*audit.Payload{evs[0].Data.Request, evs[0].Data.Response} {
			if p == nil || p.Body == nil {
				continue
			}
			var v any
			if err := json.Unmarshal(p.Body, &v); err != nil {
				t.Fatalf("recorded body is not JSON: %s", p.Body)
			}
			checkRedacted(t, v)
		}
	})
}

func checkRedacted(t *testing.T, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			l := strings.ToLower(k)
			if strings.Contains(l, "password") || strings.Contains(l, "secret") || strings.Contains(l, "token") {
				if m != audit.Redacted {
					t.Fatalf("member %q kept %v", k, m)
				}
				continue
			}
			checkRedacted(t, m)
		}
	case []any:
		for _, m := range x {
			checkRedacted(t, m)
		}
	}
}
