package breaker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/breaker"
)

func ExampleBreaker_Do() {
	b, err := breaker.New("inventory", breaker.WithConsecutiveFailures(2))
	if err != nil {
		panic(err)
	}
	for range 3 {
		err := b.Do(context.Background(), func(ctx context.Context) error {
			return errors.New("connection refused") // the dependency is down
		})
		fmt.Println(err)
	}
	if oe, ok := errors.AsType[*breaker.OpenError](b.Do(context.Background(), succeed)); ok {
		fmt.Println(b.State(), "for", oe.RetryAfter.Round(time.Second))
	}
	// Output:
	// connection refused
	// connection refused
	// breaker: open
	// open for 30s
}

func ExampleCallWithFallback() {
	b, _ := breaker.New("prices", breaker.WithConsecutiveFailures(1))
	lastGood := 9.99
	fetch := func(ctx context.Context) (float64, error) { return 0, errors.New("timeout") }
	cached := func(ctx context.Context, err error) (float64, error) {
		fmt.Println("falling back after:", err)
		return lastGood, nil
	}
	for range 2 {
		price, err := breaker.CallWithFallback(context.Background(), b, fetch, cached)
		fmt.Println(price, err)
	}
	// Output:
	// falling back after: timeout
	// 9.99 <nil>
	// falling back after: breaker: open
	// 9.99 <nil>
}

// A gateway keeps the last good list of instances and serves it, flagged
// by a header, while the upstream fails or its breaker is open.
func ExampleRegistry_Transport() {
	var failing atomic.Bool
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"items":["inst-0001"]}`)
	}))
	defer upstream.Close()

	cache := &lastGood{next: upstream.Client().Transport}
	reg, err := breaker.NewRegistry(
		breaker.WithConsecutiveFailures(2),
		breaker.WithTransportFallback(cache.fallback))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: reg.Transport(cache)}
	for i := range 4 {
		failing.Store(i > 0)
		resp, err := client.Get(upstream.URL + "/instances")
		if err != nil {
			fmt.Println(err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s fallback=%q\n", resp.StatusCode, body, resp.Header.Get("X-Fallback"))
	}
	// Output:
	// 200 {"items":["inst-0001"]} fallback=""
	// 200 {"items":["inst-0001"]} fallback="breaker: response status 503"
	// 200 {"items":["inst-0001"]} fallback="breaker: response status 503"
	// 200 {"items":["inst-0001"]} fallback="breaker: open"
}

// lastGood is a RoundTripper remembering the last 200 answer to
// GET /instances, and a transport fallback serving it.
type lastGood struct {
	next http.RoundTripper
	mu   sync.Mutex
	body []byte
	hdr  http.Header
}

func (c *lastGood) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || r.URL.Path != "/instances" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.body, c.hdr = body, resp.Header.Clone()
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (c *lastGood) fallback(r *http.Request, err error) (*http.Response, error) {
	c.mu.Lock()
	body, hdr := c.body, c.hdr.Clone()
	c.mu.Unlock()
	if r.Method != http.MethodGet || r.URL.Path != "/instances" || body == nil {
		return nil, nil // nothing to serve: keep the original outcome
	}
	hdr.Set("X-Fallback", err.Error())
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}, nil
}

func ExampleRegistry_Middleware() {
	reg, _ := breaker.NewRegistry(breaker.WithConsecutiveFailures(2))
	mux := http.NewServeMux()
	mux.Handle("GET /reports", reg.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})))
	for range 3 {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/reports", nil))
		fmt.Printf("%d %s Retry-After=%q\n", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Retry-After"))
	}
	fmt.Println(reg.Get("GET /reports").State())
	// Output:
	// 500 text/plain; charset=utf-8 Retry-After=""
	// 500 text/plain; charset=utf-8 Retry-After=""
	// 503 application/problem+json Retry-After="30"
	// open
}
