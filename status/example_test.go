package status_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/status"
)

// The page goes on an admin listener, never the public one, under any
// prefix, behind authz: here only operators see it.
func ExampleNew() {
	upstream, _ := breaker.New("example-upstream",
		breaker.WithConsecutiveFailures(1),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	_ = upstream.Do(context.Background(), func(context.Context) error { return errors.New("refused") })

	page, err := status.New(status.WithTitle("gateway"))
	if err != nil {
		panic(err)
	}
	defer page.Close()

	keys, _ := authz.NewAPIKeys(map[string]*authz.Principal{
		"ak_ops_0123456789abcdef0123456789abcdef": {ID: "oncall", Roles: []string{"operator"}},
	})
	az, err := authz.New(authz.WithAuthenticator(keys),
		authz.WithRoute("/admin/status/", authz.Allow("operators", `hasRole("operator")`)))
	if err != nil {
		panic(err)
	}
	admin := http.NewServeMux() // served on its own listener, such as 127.0.0.1:9090
	admin.Handle("/admin/status/", az.Middleware(http.StripPrefix("/admin/status", page)))

	for _, key := range []string{"", "ak_ops_0123456789abcdef0123456789abcdef"} {
		r := httptest.NewRequest("GET", "/admin/status/status.json", nil)
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.Contains(w.Body.String(), `"name":"example-upstream","state":"open","health":"bad"`))
	}
	// Output:
	// 401 false
	// 200 true
}

// WithFaults mounts an injector's control at …/faults, and only there:
// without it, the handler answers 404 and faults cannot be switched on at
// run time.
func ExampleWithFaults() {
	page, _ := status.New()
	defer page.Close()
	r := httptest.NewRequest("POST", "/faults", strings.NewReader(`{"rules":[{"name":"drill","percent":50,"status":503}]}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	page.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// 404
}

// A component of the application's own, listed beside paved's.
func ExampleRegister() {
	type queue struct{ depth int }
	jobs := &queue{depth: 12}
	status.Register("queue", "example-jobs", jobs, func(q *queue, dst []status.Component) []status.Component {
		return append(dst, status.Component{
			Kind: "queue", Name: "example-jobs", State: "ok", Health: status.HealthOK,
			Value: float64(q.depth), Unit: "jobs waiting",
		})
	})
	page, _ := status.New()
	defer page.Close()
	w := httptest.NewRecorder()
	page.ServeHTTP(w, httptest.NewRequest("GET", "/status.json", nil))
	runtime.KeepAlive(jobs) // the registry holds it weakly
	fmt.Println(strings.Contains(w.Body.String(), `{"kind":"queue","name":"example-jobs","state":"ok","health":"ok","value":12,"unit":"jobs waiting"}`))
	// Output:
	// true
}
