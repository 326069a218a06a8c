package status_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/status"
)

// newInjector returns an injector with no rules, kept reachable until
// the test ends.
func newInjector(t *testing.T, name string) *faults.Injector {
	t.Helper()
	inj, err := faults.New(name, faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	keep(t, inj)
	return inj
}

const drill = `{"rules":[{"name":"drill","percent":50,"status":503}]}`

func TestFaultsControlWhenMounted(t *testing.T) {
	inj := newInjector(t, "control-drill")
	h := newHandler(t, status.WithFaults(inj))
	for _, tc := range []struct {
		name, method string
		header       []string
		want         int
		rules        int // rules in force afterwards
	}{
		{"GET the rules", "GET", nil, 200, 0},
		{"POST JSON sets them", "POST", []string{"Content-Type", "application/json; charset=utf-8"}, 200, 1},
		{"DELETE clears them", "DELETE", nil, 200, 0},
		{"POST them again", "POST", []string{"Content-Type", "application/json"}, 200, 1},
		// The rule set above stays in force through the refusals.
		{"POST a form", "POST", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, 1},
		{"POST text", "POST", []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, 1},
		{"POST without a type", "POST", nil, http.StatusUnsupportedMediaType, 1},
		{"POST from another site", "POST", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, 1},
		{"DELETE from another origin", "DELETE", []string{"Origin", "https://elsewhere.example", "Sec-Fetch-Site", "same-site"}, http.StatusForbidden, 1},
		{"PUT", "PUT", []string{"Content-Type", "application/json"}, http.StatusMethodNotAllowed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.method, "/admin/faults", strings.NewReader(drill), tc.header...)
			if w.Code != tc.want {
				t.Fatalf("%s: %d, want %d: %s", tc.method, w.Code, tc.want, w.Body)
			}
			if n := len(inj.Rules()); n != tc.rules {
				t.Fatalf("%d rules in force, want %d", n, tc.rules)
			}
		})
	}
	c := find(t, getDoc(t, h, "/admin/status.json"), "control-drill")
	if c.Kind != "faults" || c.State != "active" {
		t.Fatalf("injector row = %+v, want an active faults row", c)
	}
}

func TestFaultsPanelOnlyWhenMounted(t *testing.T) {
	with := serve(newHandler(t, status.WithFaults(newInjector(t, "panel-drill"))), "GET", "/admin/", nil).Body.String()
	without := serve(newHandler(t), "GET", "/admin/", nil).Body.String()
	if !strings.Contains(with, `<section id="faults">`) || !strings.Contains(with, `<textarea id="faults-input"`) {
		t.Error("no faults panel with WithFaults")
	}
	if strings.Contains(without, `id="faults"`) {
		t.Error("a faults panel without WithFaults")
	}
	d := getDoc(t, newHandler(t, status.WithFaults(newInjector(t, "panel-drill"))), "/admin/status.json")
	if !d.Faults {
		t.Error("status.json does not say the fault control is mounted")
	}
}
