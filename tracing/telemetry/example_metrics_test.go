package telemetry_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/paved-go/paved/tracing"
	"github.com/paved-go/paved/tracing/telemetry"
)

func ExampleMetricsHandler() {
	shutdown, err := telemetry.Setup(context.Background(),
		telemetry.WithServiceName("inventory"), telemetry.WithPrometheus())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("GET /metrics", telemetry.MetricsHandler())
	srv := httptest.NewServer(tracing.Middleware(mux))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/instances/42")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	resp, err = srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "http_server_request_duration_seconds_count") {
			fmt.Println("requests to", label(l, "http_route"), label(l, "http_response_status_code")+":", l[strings.LastIndexByte(l, ' ')+1:])
		}
	}
	// Output:
	// 200 OK
	// requests to /instances/{id} 200: 1
}

// label returns the value of a label in a Prometheus text-format line.
func label(line, name string) string {
	_, rest, _ := strings.Cut(line, name+`="`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
