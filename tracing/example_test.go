package tracing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/tracing"
)

func ExampleMiddleware() {
	logger := slog.New(tracing.NewHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // stable output for the example
			}
			return a
		},
	})))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "serving", "id", r.PathValue("id"))
		fmt.Fprintln(w, "ok")
	})
	tr, _ := tracing.New(tracing.WithSpans(false))
	srv := httptest.NewServer(tr.Middleware(mux))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/instances/42", nil)
	req.Header.Set("X-Correlation-ID", "abc")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println("response id:", resp.Header.Get("X-Correlation-ID"))
	// Output:
	// level=INFO msg=serving id=42 correlation_id=abc
	// response id: abc
}

func ExampleTransport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("upstream got", r.Header.Get("X-Correlation-ID"), r.Header.Get("Baggage"))
	}))
	defer upstream.Close()

	client := &http.Client{Transport: tracing.Transport(nil)}
	ctx := tracing.WithCorrelationID(context.Background(), "job-7")
	req, _ := http.NewRequestWithContext(ctx, "GET", upstream.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	// Output:
	// upstream got job-7 correlation_id=job-7
}

func ExampleTraceContext() {
	// A request whose tracestate arrived as two fields, the first empty:
	// OpenTelemetry's own propagator keeps only the first.
	h := http.Header{}
	h.Add("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Add("Tracestate", "")
	h.Add("Tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")

	ctx := tracing.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	sc := trace.SpanContextFromContext(ctx)
	fmt.Println(sc.TraceID(), sc.TraceState())

	// Two traceparent fields: the request starts a new trace.
	h.Add("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ctx = tracing.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	fmt.Println(trace.SpanContextFromContext(ctx).IsValid())
	// Output:
	// 4bf92f3577b34da6a3ce929d0e0e4736 congo=t61rcWkgMzE,rojo=00f067aa0ba902b7
	// false
}
