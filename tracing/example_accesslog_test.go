package tracing_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/paved-go/paved/tracing"
)

func ExampleAccessLog() {
	logger := slog.New(tracing.NewHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == tracing.LogKeyDuration {
				return slog.Attr{} // stable output for the example
			}
			return a
		},
	})))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	tr, err := tracing.New(tracing.WithSpans(false), tracing.WithLogger(logger),
		// Asked for, the query and the Authorization header are logged,
		// their secrets redacted.
		tracing.WithAccessLogQuery(true), tracing.WithAccessLogHeaders("Authorization"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// AccessLog outermost: it also logs what the tracing Middleware and
	// the ServeMux inside it rejected or routed.
	srv := httptest.NewServer(tr.AccessLog(tr.Middleware(mux)))
	defer srv.Close()

	for _, path := range []string{"/instances/42?token=secret", "/missing"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-Correlation-ID", "abc")
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Output:
	// level=INFO msg="http request" method=GET route="GET /instances/{id}" status=200 bytes=3 query="token=[REDACTED]" headers.Authorization=[REDACTED] correlation_id=abc
	// level=WARN msg="http request" method=GET route="" status=404 bytes=19 headers.Authorization=[REDACTED] correlation_id=abc
}
