package main

import (
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

// newLimits returns the gateway's rate limits, applied per route (inside
// the ServeMux, so policies match the route pattern):
//
//   - per client address: 50 requests a second, bursts of 100, so a
//     client cannot dodge the per-key limits by inventing API keys;
//   - per API key (X-API-Key, or Authorization: Bearer): 100 requests a
//     minute with bursts of 20 on the API ("api"), and 2 launches a minute
//     on POST /instances ("launch"), a tight limit to show 429s with curl.
//
// Callers without an API key share one "anonymous" bucket per policy.
func newLimits(logger *slog.Logger) (func(http.Handler) http.Handler, error) {
	perIP, err := ratelimit.NewKeyed(50, 100)
	if err != nil {
		return nil, err
	}
	ipLimit, err := ratelimit.NewPolicies(
		ratelimit.Policy{Name: "ip", Limiter: perIP, Key: ratelimit.ClientIP},
		ratelimit.WithLogger(logger))
	if err != nil {
		return nil, err
	}

	api, err := ratelimit.NewKeyed(rate.Every(600*time.Millisecond), 20)
	if err != nil {
		return nil, err
	}
	launch, err := ratelimit.NewKeyed(rate.Every(30*time.Second), 2)
	if err != nil {
		return nil, err
	}
	keyLimit, err := ratelimit.NewPolicies(
		ratelimit.Policy{Name: "api", Limiter: api, Key: ratelimit.APIKey},
		ratelimit.WithRoute("POST /instances", ratelimit.Policy{Name: "launch", Limiter: launch, Key: ratelimit.APIKey}),
		ratelimit.WithAnonymousKey("anonymous"),
		ratelimit.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler { return ipLimit.Middleware(keyLimit.Middleware(next)) }, nil
}
