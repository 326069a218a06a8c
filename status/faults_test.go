package status_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/status"
)

// newInjector returns the injector whose control the tests mount.
func newInjector(t *testing.T) *faults.Injector {
	t.Helper()
	return &faults.Injector{}
}

const drill = `{"rules":[{"name":"drill","percent":50,"status":503}]}`

func TestFaultsControlWhenMounted(t *testing.T) {
	h := newHandler(t, status.WithFaults(newInjector(t)))
	for _, tc := range []struct {
		name, method string
		header       []string
		want         int // 0: delegated to the injector, whatever it answers but these
	}{
		{"GET is the injector's", "GET", nil, 0},
		{"DELETE is the injector's", "DELETE", nil, 0},
		{"POST JSON is the injector's", "POST", []string{"Content-Type", "application/json; charset=utf-8"}, 0},
		{"POST a form", "POST", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"POST text", "POST", []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"POST without a type", "POST", nil, http.StatusUnsupportedMediaType},
		{"POST from another site", "POST", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"DELETE from another origin", "DELETE", []string{"Origin", "https://elsewhere.example", "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"PUT", "PUT", []string{"Content-Type", "application/json"}, http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.method, "/admin/faults", strings.NewReader(drill), tc.header...)
			switch {
			case tc.want == 0 && (w.Code == 404 || w.Code == 403 || w.Code == 405 || w.Code == 415):
				t.Fatalf("%s: %d, want it passed to the injector", tc.method, w.Code)
			case tc.want != 0 && w.Code != tc.want:
				t.Fatalf("%s: %d, want %d", tc.method, w.Code, tc.want)
			}
		})
	}
}

func TestFaultsPanelOnlyWhenMounted(t *testing.T) {
	with := serve(newHandler(t, status.WithFaults(newInjector(t))), "GET", "/admin/", nil).Body.String()
	without := serve(newHandler(t), "GET", "/admin/", nil).Body.String()
	if !strings.Contains(with, `<section id="faults">`) || !strings.Contains(with, `<textarea id="faults-input"`) {
		t.Error("no faults panel with WithFaults")
	}
	if strings.Contains(without, `id="faults"`) {
		t.Error("a faults panel without WithFaults")
	}
	d := getDoc(t, newHandler(t, status.WithFaults(newInjector(t))), "/admin/status.json")
	if !d.Faults {
		t.Error("status.json does not say the fault control is mounted")
	}
}
