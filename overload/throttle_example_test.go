package overload_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/paved-go/paved/overload"
)

// A client whose backend answers 503 starts rejecting requests locally,
// without sending them, once the backend refuses more than half of them.
func ExampleThrottle_Transport() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // overloaded
	}))
	defer backend.Close()

	// The draw is fixed at 0.5 to make the output deterministic; the
	// default is math/rand/v2.
	th, err := overload.NewThrottle("backend", overload.WithRandom(func() float64 { return 0.5 }))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: th.Transport(backend.Client().Transport)}
	for i := range 4 {
		p := th.Probability()
		resp, err := client.Get(backend.URL)
		switch {
		case errors.Is(err, overload.ErrThrottled):
			fmt.Printf("request %d: p=%.2f throttled locally\n", i, p)
		case err != nil:
			fmt.Println(err)
		default:
			resp.Body.Close()
			fmt.Printf("request %d: p=%.2f sent: %d\n", i, p, resp.StatusCode)
		}
	}
	// Output:
	// request 0: p=0.00 sent: 503
	// request 1: p=0.50 sent: 503
	// request 2: p=0.67 throttled locally
	// request 3: p=0.75 throttled locally
}
