package audit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/paved-go/paved/audit"
)

// printSink prints the parts of each event an example wants to show; a
// real service uses a FileSink, a WebhookSink, NewSlogSink or
// NewOTelSink.
type printSink struct{}

func (printSink) Name() string { return "print" }

func (printSink) Write(_ context.Context, batch []*audit.Event) error {
	for _, ev := range batch {
		d := ev.Data
		fmt.Println(strings.TrimSpace("event " + ev.Sequence + " " + ev.Type + " " + ev.Subject))
		if d.Principal != nil {
			fmt.Println("  principal:", d.Principal.ID)
		}
		if d.Outcome != nil {
			fmt.Println("  action:", d.Action.Operation, "->", d.Outcome.Code, d.Outcome.Result)
		}
		if d.Request != nil {
			fmt.Println("  request body:", string(d.Request.Body))
		}
		if d.Response != nil {
			fmt.Println("  response body:", string(d.Response.Body))
		}
		for k, v := range d.AdditionalFields {
			fmt.Printf("  %s: %s\n", k, v)
		}
	}
	return nil
}

func (printSink) Close(context.Context) error { return nil }

func ExampleNew() {
	em, err := audit.New("billing", audit.WithSink(printSink{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// Events that are not HTTP or gRPC calls are emitted directly; the
	// emitter fills in the id, source, time, sequence, and the
	// correlation and trace ids of ctx.
	em.Emit(ctx, &audit.Event{
		Type:    "com.example.invoice.paid",
		Subject: "invoice/7",
		Data:    audit.Data{Principal: &audit.Principal{ID: "svc-billing", Type: "service"}},
	})
	em.Close(ctx) // writes what is queued
	// Output:
	// event 1 com.example.invoice.paid invoice/7
	//   principal: svc-billing
}

func ExampleEmitter_Middleware() {
	em, err := audit.New("gateway",
		audit.WithSink(printSink{}),
		audit.WithRoute("POST /instances", audit.Route{
			Level:  audit.RequestResponse,
			Type:   "com.example.instances.launch",
			Fields: map[string]string{"ipAddress": "response.body.ipAddress"},
		}),
		audit.WithRoute("GET /healthz", audit.Route{Level: audit.None}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	launch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"i-1","ipAddress":"10.0.0.7"}`)
	})
	mux := http.NewServeMux()
	// Inside the mux, on each route, so the route's policy applies.
	mux.Handle("POST /instances", em.Middleware(launch))
	mux.Handle("GET /healthz", em.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))

	req := httptest.NewRequest("POST", "/instances", strings.NewReader(`{"image":"ubuntu","password":"hunter2"}`))
	req.Header.Set("Content-Type", "application/json")
	mux.ServeHTTP(httptest.NewRecorder(), req)
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	em.Close(context.Background())
	// Output:
	// event 1 com.example.instances.launch
	//   action: POST /instances -> 201 success
	//   request body: {"image":"ubuntu","password":"[REDACTED]"}
	//   response body: {"id":"i-1","ipAddress":"10.0.0.7"}
	//   ipAddress: "10.0.0.7"
}

func ExampleNewSlogSink() {
	// In production: audit.NewSlogSink(tracing.NewJSONLogger(os.Stdout)).
	// Here the time and id, which change at every run, are left out.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == "time" || a.Key == "id" {
				return slog.Attr{}
			}
			return a
		},
	}))
	em, err := audit.New("billing", audit.WithSink(audit.NewSlogSink(logger)))
	if err != nil {
		fmt.Println(err)
		return
	}
	em.Emit(context.Background(), &audit.Event{Type: "com.example.invoice.paid", Subject: "invoice/7",
		Data: audit.Data{Principal: &audit.Principal{ID: "svc-billing"}}})
	em.Close(context.Background())
	// Output:
	// {"level":"INFO","msg":"audit event","type":"com.example.invoice.paid","source":"billing","sequence":"1","subject":"invoice/7","data":{"principal":{"id":"svc-billing"}}}
}
