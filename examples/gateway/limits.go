package main

import (
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
	"github.com/redis/go-redis/v9"
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
//
// With rdb (the -redis flag) the buckets live in Redis, shared by every
// gateway on that Redis: two gateways on different ports then let a key
// launch twice a minute in all, not twice each. When Redis fails, each
// gateway decides alone, from local buckets of the same quota, until it
// answers again.
func newLimits(logger *slog.Logger, rdb redis.UniversalClient) (func(http.Handler) http.Handler, error) {
	keyed := func(name string, limit rate.Limit, burst int) (ratelimit.Decider, error) {
		if rdb == nil {
			return ratelimit.NewKeyed(limit, burst)
		}
		return redisrate.New("gateway-"+name, rdb, limit, burst, redisrate.WithLogger(logger))
	}
	perIP, err := keyed("ip", 50, 100)
	if err != nil {
		return nil, err
	}
	ipLimit, err := ratelimit.NewPolicies(
		ratelimit.Policy{Name: "ip", Limiter: perIP, Key: ratelimit.ClientIP},
		ratelimit.WithLogger(logger))
	if err != nil {
		return nil, err
	}

	api, err := keyed("api", rate.Every(600*time.Millisecond), 20)
	if err != nil {
		return nil, err
	}
	launch, err := keyed("launch", rate.Every(30*time.Second), 2)
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
