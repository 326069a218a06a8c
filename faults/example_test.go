package faults_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"

	"github.com/paved-go/paved/faults"
)

// An Injector is off until rules are set; here half the requests to one
// route fail with 503, tagged with the rule's name.
func ExampleInjector_Middleware() {
	inj, err := faults.New("drills", faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /instances/{id}", inj.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "instance "+r.PathValue("id"))
	})))

	get := func() {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/instances/7", nil))
		fmt.Printf("%d Paved-Fault: %q\n", w.Code, w.Header().Get("Paved-Fault"))
	}
	get()
	err = inj.Set(faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Route: "GET /instances/{id}"}})
	if err != nil {
		panic(err)
	}
	get()
	inj.Clear()
	get()
	// Output:
	// 200 Paved-Fault: ""
	// 503 Paved-Fault: "drill"
	// 200 Paved-Fault: ""
}

// The control endpoint switches faults on and off at run time; mount it
// on an admin listener, behind authz.
func ExampleInjector_ServeHTTP() {
	inj, err := faults.New("drills", faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	admin := http.NewServeMux()
	admin.Handle("/admin/faults", inj)

	do := func(method, body string) {
		r := httptest.NewRequest(method, "/admin/faults", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	do("POST", `{"rules":[{"name":"drill","percent":50,"status":503,"match":{"path_prefix":"/instances"}}]}`)
	do("POST", `{"rules":[{"name":"drill","percent":500,"status":503}]}`)
	fmt.Println()
	do("DELETE", "")
	// Output:
	// 200 {"rules":[{"name":"drill","percent":50,"match":{"path_prefix":"/instances"},"status":503}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"faults: rule 0 (\"drill\"): percent 500 not in (0, 100]"}
	// 200 {"rules":[]}
}

// A transport's reset fails like a real one, and says it was injected.
func ExampleInjector_Transport() {
	inj, err := faults.New("drills", faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	if err := inj.Set(faults.Rule{Name: "cut", Percent: 100, Reset: true, Match: faults.Match{Host: "inventory:8080"}}); err != nil {
		panic(err)
	}
	client := &http.Client{Transport: inj.Transport(nil)}
	_, err = client.Get("http://inventory:8080/items")
	fmt.Println(errors.Is(err, syscall.ECONNRESET))
	fmt.Println(err)
	// Output:
	// true
	// Get "http://inventory:8080/items": faults: injected reset (rule cut): read tcp: read: connection reset by peer
}
