package overload_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/paved-go/paved/overload"
)

func ExampleNewBulkhead() {
	// At most 2 concurrent calls to the reports database.
	b, err := overload.NewBulkhead("reports-db", 2)
	if err != nil {
		panic(err)
	}
	r1, _ := b.Acquire(context.Background())
	r2, _ := b.Acquire(context.Background())
	_, err = b.Acquire(context.Background())
	fmt.Println(errors.Is(err, overload.ErrShed), err)
	r1()
	r2()
	err = b.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	// Output:
	// true overload: shed by reports-db (default)
	// <nil>
}

func ExampleLimiter_Middleware() {
	l, err := overload.NewLimiter("api",
		overload.WithRouteClass("POST /instances", overload.Critical),
		overload.WithRouteClass("GET /instances", overload.Sheddable),
		overload.WithQueue(32),
	)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /instances", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("GET /instances", func(w http.ResponseWriter, r *http.Request) {})
	h := l.Middleware(mux) // outside breaker.Middleware, inside tracing

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/instances", nil))
	fmt.Println(w.Code, l.Limit())
	// Output: 201 3
}

func ExampleLimiter_Acquire() {
	l, err := overload.NewLimiter("worker", overload.WithAlgorithm(overload.AIMD))
	if err != nil {
		panic(err)
	}
	t, err := l.Acquire(context.Background(), overload.Critical)
	if err != nil {
		return // shed: try later (errors.As(err, new(*overload.ShedError)))
	}
	defer t.Done() // records the latency sample and frees the slot
	fmt.Println(l.InFlight())
	// Output: 1
}
