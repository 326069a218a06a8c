package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/retry"
)

func ExampleRetrier_Do() {
	r, err := retry.New("example", retry.WithBackoff(retry.Constant(time.Millisecond)))
	if err != nil {
		panic(err)
	}
	calls := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("temporarily unavailable")
		}
		return nil
	})
	fmt.Println(calls, err)
	// Output: 3 <nil>
}

func ExamplePermanent() {
	r, _ := retry.New("example")
	err := r.Do(context.Background(), func(ctx context.Context) error {
		return retry.Permanent(errors.New("invalid request"))
	})
	fmt.Println(err)
	// Output: retry: 1 attempt: invalid request
}

func ExampleRetrier_Transport() {
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "instances")
	}))
	defer upstream.Close()

	r, _ := retry.New("example", retry.WithBackoff(retry.Constant(time.Millisecond)))
	client := &http.Client{Transport: r.Transport(nil)}
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "calls")
	// Output: 200 instances after 2 calls
}
