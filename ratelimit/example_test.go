package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

// Example limits an API per API key, with a tighter limit on launches,
// mounted inside the ServeMux so that the route policy sees r.Pattern.
func Example() {
	// Per API key: 100 requests a minute on the API, and 2 launches a
	// minute on POST /instances.
	api, _ := ratelimit.NewKeyed(rate.Every(600*time.Millisecond), 100)
	launch, _ := ratelimit.NewKeyed(rate.Every(30*time.Second), 2)
	limits, err := ratelimit.NewPolicies(
		ratelimit.Policy{Name: "api", Limiter: api, Key: ratelimit.APIKey},
		ratelimit.WithRoute("POST /instances", ratelimit.Policy{Name: "launch", Limiter: launch, Key: ratelimit.APIKey}),
		ratelimit.WithAnonymousKey("anonymous"), // callers without a key share one bucket
	)
	if err != nil {
		panic(err)
	}
	created := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux := http.NewServeMux()
	mux.Handle("POST /instances", limits.Middleware(created)) // inside the mux, so r.Pattern is set

	for range 3 {
		r := httptest.NewRequest("POST", "/instances", nil)
		r.Header.Set("X-API-Key", "demo")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%d RateLimit-Policy: %s RateLimit: %s", w.Code, w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
		if ra := w.Header().Get("Retry-After"); ra != "" {
			fmt.Printf(" Retry-After: %s", ra)
		}
		fmt.Println()
	}
	// Output:
	// 201 RateLimit-Policy: "launch";q=2;w=60 RateLimit: "launch";r=1;t=30
	// 201 RateLimit-Policy: "launch";q=2;w=60 RateLimit: "launch";r=0;t=60
	// 429 RateLimit-Policy: "launch";q=2;w=60 RateLimit: "launch";r=0;t=30 Retry-After: 30
}

func ExampleKeyed() {
	// One bucket per client: 1 request a second, bursts of 2.
	limiter, err := ratelimit.NewKeyed(1, 2)
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		d := limiter.AllowAt("203.0.113.7", now)
		fmt.Printf("allowed=%v remaining=%d retry after %v\n", d.Allowed, d.Remaining, d.RetryAfter)
	}
	d := limiter.AllowAt("203.0.113.7", now.Add(time.Second))
	fmt.Printf("a second later: allowed=%v\n", d.Allowed)
	// Output:
	// allowed=true remaining=1 retry after 0s
	// allowed=true remaining=0 retry after 0s
	// allowed=false remaining=0 retry after 1s
	// a second later: allowed=true
}

func ExampleLimiter_Transport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()

	// At most one call a minute to the upstream; fail fast rather than wait.
	limiter, _ := ratelimit.New(rate.Every(time.Minute), 1, ratelimit.WithMaxWait(0))
	client := &http.Client{Transport: limiter.Transport(nil)}
	defer client.CloseIdleConnections()
	for range 2 {
		resp, err := client.Get(upstream.URL)
		if err != nil {
			fmt.Println("limited:", errors.Is(err, ratelimit.ErrLimited))
			continue
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// limited: true
}

// ExampleEnforcer applies a policy to messages of a queue consumer, a
// transport of its own: the Enforcer counts, traces and logs the
// decisions as the HTTP middleware does.
func ExampleEnforcer() {
	perTenant, _ := ratelimit.NewKeyed(rate.Every(time.Minute), 2)
	enforcer, err := ratelimit.NewEnforcer("jobs", perTenant)
	if err != nil {
		panic(err)
	}
	for _, tenant := range []string{"acme", "acme", "acme", "globex", ""} {
		_, err := enforcer.Check(context.Background(), "jobs.submit", tenant)
		var le *ratelimit.LimitError
		switch {
		case err == nil:
			fmt.Println(tenant, "processed")
		case errors.As(err, &le):
			fmt.Println(tenant, "requeued, retry after", le.RetryAfter.Round(time.Second))
		default:
			fmt.Printf("%q rejected: %v\n", tenant, err)
		}
	}
	// Output:
	// acme processed
	// acme processed
	// acme requeued, retry after 1m0s
	// globex processed
	// "" rejected: ratelimit: request has no rate limit key
}

func ExampleProxies() {
	// Behind a load balancer in 10.0.0.0/8 that appends to X-Forwarded-For.
	lb := ratelimit.Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}

	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:41234"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23") // 6.6.6.6 was forged by the client
	key, _ := lb.ClientIP(r)
	fmt.Println(key)

	r.RemoteAddr = "203.0.113.9:5555" // not the load balancer: the header is ignored
	key, _ = lb.ClientIP(r)
	fmt.Println(key)
	// Output:
	// 198.51.100.23
	// 203.0.113.9
}
