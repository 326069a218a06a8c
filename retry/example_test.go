package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/cache"
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

// Example_breaker puts the retries outside a circuit breaker: once the
// breaker opens, its rejection ends the retries at once, and the caller
// gets the breaker's error with the time until it half-opens.
func Example_breaker() {
	b, err := breaker.New("inventory", breaker.WithConsecutiveFailures(2),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	r, err := retry.New("inventory", retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithMaxAttempts(5))
	if err != nil {
		panic(err)
	}
	calls := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		return b.Do(ctx, func(context.Context) error {
			calls++
			return errors.New("connection refused")
		})
	})
	oe, _ := errors.AsType[*breaker.OpenError](err)
	fmt.Println(err)
	fmt.Println("upstream calls:", calls, "half-open in about 30s:", oe.RetryAfter > 29*time.Second)
	// Output:
	// retry: 3 attempts: breaker: open
	// upstream calls: 2 half-open in about 30s: true
}

// With WithWaitForHalfOpen(true), a call the breaker rejects waits for
// the breaker's probe instead of failing at once, when that wait is within
// WithMaxServerDelay: here the upstream recovers while the breaker is open.
func ExampleWithWaitForHalfOpen() {
	b, err := breaker.New("inventory", breaker.WithConsecutiveFailures(1),
		breaker.WithOpenDuration(20*time.Millisecond), breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	r, err := retry.New("inventory", retry.WithWaitForHalfOpen(true),
		retry.WithBackoff(retry.Constant(time.Millisecond)))
	if err != nil {
		panic(err)
	}
	calls := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		return b.Do(ctx, func(context.Context) error {
			calls++
			if calls == 1 {
				return errors.New("connection refused") // opens the breaker
			}
			return nil
		})
	})
	fmt.Println(err, "upstream calls:", calls)
	// Output: <nil> upstream calls: 2
}

func ExamplePermanent() {
	r, _ := retry.New("example")
	err := r.Do(context.Background(), func(ctx context.Context) error {
		return retry.Permanent(errors.New("invalid request"))
	})
	fmt.Println(err)
	// Output: retry: 1 attempt: invalid request
}

// ExampleTransport retries with no configuration at all: the package
// defaults over paved's default base transport.
func ExampleTransport() {
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "instances")
	}))
	defer upstream.Close()

	client := &http.Client{Transport: retry.Transport(nil)}
	defer client.CloseIdleConnections()
	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "calls")
	// Output: 200 instances after 2 calls
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

// ExampleCheckResponse shows a cache loader behind a retrying client.
// Transport returns the upstream's last answer as is, even a 503, so the
// loader turns a failing status into an error with CheckResponse; only
// then does the cache's stale-if-error see the failure and serve the last
// good value.
func ExampleCheckResponse() {
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 { // down after the first answer
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "instance i-1: running")
	}))
	defer upstream.Close()

	r, err := retry.New("inventory", retry.WithBackoff(retry.Constant(time.Millisecond)))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: r.Transport(nil)}
	defer client.CloseIdleConnections()

	c, err := cache.New[string, string]("instances",
		cache.WithTTL(time.Millisecond), // stale soon, for the example
		cache.WithJitter(0),
		cache.WithStaleIfError(time.Hour))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	load := func(ctx context.Context, id string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL+"/instances/"+id, nil)
		if err != nil {
			return "", err
		}
		resp, err := retry.CheckResponse(client.Do(req))
		if err != nil {
			return "", err // a 5xx is an error here, after the retries
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}

	for range 2 {
		v, err := c.Get(context.Background(), "i-1", load)
		fmt.Printf("%q %v\n", v, err)
		time.Sleep(50 * time.Millisecond) // the value expires
	}
	fmt.Println("upstream calls:", calls.Load(), "stale served:", c.Stats().StaleServed)

	// Without a cache, the error says what the upstream answered.
	_, err = load(context.Background(), "i-1")
	var se *retry.StatusError
	fmt.Println(errors.As(err, &se), se.StatusCode, err)
	// Output:
	// "instance i-1: running" <nil>
	// "instance i-1: running" <nil>
	// upstream calls: 4 stale served: 1
	// true 503 retry: upstream answered 503
}
