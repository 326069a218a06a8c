package paved_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

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
