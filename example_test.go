package paved_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/paved-go/paved"
)

func ExampleChain() {
	logf := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Println("enter", name)
				next.ServeHTTP(w, r)
				fmt.Println("leave", name)
			})
		}
	}
	// The first middleware listed is the outermost: it sees the request
	// first and the response last.
	handler := paved.Chain(logf("tracing"), logf("ratelimit"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Println("handler")
		}))

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/instances", nil))
	// Output:
	// enter tracing
	// enter ratelimit
	// handler
	// leave ratelimit
	// leave tracing
}

// A service declares its own errors with the status they map to, and
// answers every error the same way paved's middleware answers its own.
func ExampleWriteError() {
	var ErrShipped = paved.NewError(http.StatusConflict, "orders: already shipped")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fmt.Errorf("cancel order 7 at db-3.internal: %w", ErrShipped)
		paved.WriteError(w, r, err) // the wrapping text never reaches the client
	})

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("POST", "/orders/7/cancel", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body)
	// Output:
	// 409 application/problem+json
	// {"type":"about:blank","title":"Conflict","status":409,"detail":"orders: already shipped"}
}

// A problem type of your own: a 429 that tells the client which quota it
// ran out of, as an extension member, and when to come back.
func ExampleProblem() {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/instances", nil)
	paved.WriteProblem(w, r, paved.Problem{
		Type:       "https://api.example.com/problems/quota-exceeded",
		Title:      "Launch quota exceeded",
		Status:     http.StatusTooManyRequests,
		Detail:     "2 launches a minute per API key",
		RetryAfter: 30 * time.Second,
		Extensions: []paved.Extension{{Name: "quota", Value: "launch"}},
	})
	fmt.Println(w.Code, w.Header().Get("Retry-After"))
	fmt.Println(w.Body)
	// Output:
	// 429 30
	// {"type":"https://api.example.com/problems/quota-exceeded","title":"Launch quota exceeded","status":429,"detail":"2 launches a minute per API key","quota":"launch"}
}

func ExampleProblemMux() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PathValue("id"))
	})
	handler := paved.ProblemMux(mux)

	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/instances/inst-1", nil),
		httptest.NewRequest("GET", "/nope", nil),
		httptest.NewRequest("DELETE", "/instances/inst-1", nil),
	} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("Allow"), w.Body)
	}
	// Output:
	// 200  inst-1
	// 404  {"type":"about:blank","title":"Not Found","status":404,"detail":"no route for GET /nope"}
	// 405 GET, HEAD {"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"method DELETE is not allowed for /instances/inst-1; allowed: GET, HEAD"}
}

// An access log that sees what every request was answered with.
func ExampleNewResponseWriter() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // steady output for the example
			}
			return a
		},
	}))
	accessLog := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := paved.NewResponseWriter(w)
			next.ServeHTTP(rw, r)
			logger.Info("request", "path", r.URL.Path, "status", rw.Status(), "bytes", rw.BytesWritten())
		})
	}
	handler := accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created")
	}))

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/instances", nil))
	// Output:
	// level=INFO msg=request path=/instances status=201 bytes=7
}

// HTTPStatus and RetryDelay read what an error declares, the same way
// WriteError does: for a log line, a metric, or an answer of your own.
func ExampleHTTPStatus() {
	var ErrBusy = paved.NewError(http.StatusServiceUnavailable, "orders: busy")
	err := fmt.Errorf("reserve stock: %w", ErrBusy)
	d, ok := paved.RetryDelay(err)
	fmt.Println(paved.HTTPStatus(err), d, ok)
	fmt.Println(paved.HTTPStatus(context.DeadlineExceeded), paved.HTTPStatus(context.Canceled))
	// Output:
	// 503 0s false
	// 504 499
}

// ProblemOf is where WriteError starts: change the type before writing.
func ExampleProblemOf() {
	var ErrShipped = paved.NewError(http.StatusConflict, "orders: already shipped")
	p := paved.ProblemOf(ErrShipped)
	p.Type = "https://api.example.com/problems/order-state"
	w := httptest.NewRecorder()
	paved.WriteProblem(w, httptest.NewRequest("POST", "/orders/7/cancel", nil), p)
	fmt.Println(w.Body)
	// Output:
	// {"type":"https://api.example.com/problems/order-state","title":"Conflict","status":409,"detail":"orders: already shipped"}
}

// DefaultTransport is the base every paved RoundTripper uses given nil;
// use it for your own clients so they share its pool.
func ExampleDefaultTransport() {
	t := paved.DefaultTransport()
	fmt.Println(t.MaxIdleConnsPerHost, t.MaxIdleConns)
	// Output: 128 512
}
