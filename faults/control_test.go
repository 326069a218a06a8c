package faults_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paved-go/paved/faults"
)

func control(t *testing.T, inj *faults.Injector, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, "/admin/faults", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, "/admin/faults", nil)
	}
	w := httptest.NewRecorder()
	inj.ServeHTTP(w, r)
	return w
}

func TestControl(t *testing.T) {
	inj := quiet(t)
	if w := control(t, inj, "GET", ""); w.Code != 200 || w.Body.String() != "{\"rules\":[]}\n" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET with no rules: %d %q", w.Code, w.Body)
	}
	w := control(t, inj, "POST", `{"rules":[{"name":"drill","percent":50,"status":503}]}`)
	if w.Code != 200 || w.Body.String() != "{\"rules\":[{\"name\":\"drill\",\"percent\":50,\"status\":503}]}\n" {
		t.Fatalf("POST: %d %q", w.Code, w.Body)
	}
	if got := inj.Rules(); len(got) != 1 || got[0] != (faults.Rule{Name: "drill", Percent: 50, Status: 503}) || !inj.Active() {
		t.Fatalf("after POST, Rules() = %+v", got)
	}
	full := `{"rules":[{"name":"slow-get","percent":100,"match":{"method":"GET","route":"GET /instances/{id}","path_prefix":"/instances",` +
		`"host":"upstream:8080","header":"X-Drill: on","principal":"ops"},"latency":"200ms","jitter":"50ms"},` +
		`{"name":"grpc","percent":10,"match":{"grpc_method":"/pkg.Svc/Method"},"grpc_code":"UNAVAILABLE"},` +
		`{"name":"cut","percent":1,"reset":true},{"name":"half","percent":0.5,"abort":true}]}` + "\n"
	if w := control(t, inj, "POST", full); w.Code != 200 || w.Body.String() != full {
		t.Fatalf("POST of every field: %d\n%s\nwant\n%s", w.Code, w.Body, full)
	}
	if w := control(t, inj, "GET", ""); w.Code != 200 || w.Body.String() != full {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	if w := control(t, inj, "DELETE", ""); w.Code != 200 || w.Body.String() != "{\"rules\":[]}\n" || inj.Active() {
		t.Fatalf("DELETE: %d %q, active %v", w.Code, w.Body, inj.Active())
	}
	if w := control(t, inj, "POST", `{"rules":[]}`); w.Code != 200 || inj.Active() {
		t.Fatalf("POST of no rules: %d, active %v", w.Code, inj.Active())
	}
}

func TestControlRefusesBadBodies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctype  string
		body   string
		status int
		detail string
	}{
		{"not json", "", `rules`, 400, "faults: invalid character"},
		{"no rules list", "", `{}`, 400, `no "rules" list`},
		{"null rules", "", `{"rules":null}`, 400, `no "rules" list`},
		{"unknown member", "", `{"rules":[],"on":true}`, 400, `unknown field "on"`},
		{"misspelt field", "", `{"rules":[{"name":"x","percnt":50,"status":503}]}`, 400, `unknown field "percnt"`},
		{"misspelt match field", "", `{"rules":[{"name":"x","percent":50,"status":503,"match":{"rout":"/"}}]}`, 400, `unknown field "rout"`},
		{"percent as a string", "", `{"rules":[{"name":"x","percent":"50","status":503}]}`, 400, "faults: "},
		{"bad duration", "", `{"rules":[{"name":"x","percent":50,"latency":"soon"}]}`, 400, `latency "soon" is not a duration`},
		{"invalid rule", "", `{"rules":[{"name":"x","percent":500,"status":503}]}`, 400, "percent 500 not in (0, 100]"},
		{"two invalid rules", "", `{"rules":[{"name":"x","percent":5},{"name":"x","percent":5,"status":200}]}`, 400,
			"faults: rule 0 (\"x\"): injects nothing: give latency, jitter, status, grpc_code, reset or abort\nfaults: rule 1 (\"x\"): name repeats an earlier rule's\nfaults: rule 1 (\"x\"): status 200 not in 400-599"},
		{"trailing data", "", `{"rules":[]} {}`, 400, "data after the rule set"},
		{"not json media type", "text/plain", `{"rules":[]}`, 415, "application/json"},
		{"no media type", "-", `{"rules":[]}`, 415, "application/json"},
		{"too large", "", `{"rules":[` + strings.Repeat(" ", faults.MaxControlBody) + `]}`, 413, "over 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := quiet(t, faults.Rule{Name: "kept", Percent: 1, Status: 503})
			r := httptest.NewRequest("POST", "/faults", strings.NewReader(tc.body))
			switch tc.ctype {
			case "":
				r.Header.Set("Content-Type", "application/json; charset=utf-8")
			case "-":
			default:
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			inj.ServeHTTP(w, r)
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != tc.status || p.Status != tc.status || w.Header().Get("Content-Type") != "application/problem+json" ||
				!strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("answered %d %q, want %d with %q", w.Code, p.Detail, tc.status, tc.detail)
			}
			if got := inj.Rules(); len(got) != 1 || got[0].Name != "kept" {
				t.Fatalf("a refused POST changed the rules to %+v", got)
			}
		})
	}
}

func TestControlMethods(t *testing.T) {
	inj := quiet(t)
	for _, m := range []string{"PUT", "PATCH"} {
		w := control(t, inj, m, "")
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD, POST, DELETE" {
			t.Fatalf("%s: %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
	if w := control(t, inj, "HEAD", ""); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
	for _, m := range []string{"POST", "DELETE"} {
		r := httptest.NewRequest(m, "/admin/faults", strings.NewReader(`{"rules":[{"name":"x","percent":1,"status":503}]}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		inj.ServeHTTP(w, r)
		if w.Code != 403 || inj.Active() {
			t.Fatalf("cross-site %s: %d, active %v", m, w.Code, inj.Active())
		}
	}
	var none *faults.Injector
	if w := control(t, none, "POST", `{"rules":[]}`); w.Code != 404 {
		t.Fatalf("a nil Injector's control answered %d", w.Code)
	}
}

func TestParseRules(t *testing.T) {
	rules, err := faults.ParseRules([]byte(`{"rules":[{"name":"drill","percent":50,"status":503}]}`))
	if err != nil || len(rules) != 1 || rules[0] != (faults.Rule{Name: "drill", Percent: 50, Status: 503}) {
		t.Fatalf("ParseRules = %+v, %v", rules, err)
	}
}

// FuzzParseRules checks that any body is refused with an error or gives
// rules that Set takes and that write back to the same rules.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{
		`{"rules":[{"name":"drill","percent":50,"status":503}]}`,
		`{"rules":[{"name":"a","percent":100,"latency":"1s","jitter":"1ms","match":{"method":"GET","header":"X: y"}}]}`,
		`{"rules":[{"name":"g","percent":0.1,"grpc_code":"ABORTED","match":{"grpc_method":"/a.B/"}}]}`,
		`{"rules":[{"name":"r","percent":1,"reset":true},{"name":"b","percent":1,"abort":true}]}`,
		`{"rules":[]}`, `{}`, `[]`, `{"rules":[{"name":"x","percent":1e309}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := faults.ParseRules(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "faults: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		inj := quiet(t)
		if err := inj.Set(rules...); err != nil {
			t.Fatalf("ParseRules accepted what Set refuses: %v", err)
		}
		b, err := json.Marshal(struct {
			Rules []faults.Rule `json:"rules"`
		}{rules})
		if err != nil {
			t.Fatal(err)
		}
		again, err := faults.ParseRules(b)
		if err != nil || len(again) != len(rules) {
			t.Fatalf("%s does not parse back: %v", b, err)
		}
		for i := range rules {
			if again[i] != rules[i] {
				t.Fatalf("rule %d is %+v after a round trip, was %+v", i, again[i], rules[i])
			}
		}
	})
}
