package main

import (
	"log/slog"
	"net/http"

	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
	"github.com/redis/go-redis/v9"
)

// The per-key limits are gateway.yaml's (x-platform rateLimit: 100 calls a
// minute with bursts of 20 per API key on the API, 2 launches a minute per
// key). An operation has one rateLimit, so the limit per client address
// that every rate-limited operation also gets is here, around the
// platform's routes:
// 50 requests a second, bursts of 100, so a client cannot dodge the
// per-key limits by inventing API keys.
//
// With rdb (the -redis flag) its buckets live in Redis, shared by every
// gateway on that Redis. When Redis fails, each gateway decides alone,
// from local buckets of the same quota, until it answers again. (The
// document's per-key limits are per process: the platform builds their
// buckets in memory.)
func newIPLimit(logger *slog.Logger, rdb redis.UniversalClient) (func(http.Handler) http.Handler, error) {
	var (
		perIP ratelimit.Decider
		err   error
	)
	if rdb == nil {
		perIP, err = ratelimit.NewKeyed(50, 100)
	} else {
		perIP, err = redisrate.New("gateway-ip", rdb, 50, 100, redisrate.WithLogger(logger))
	}
	if err != nil {
		return nil, err
	}
	ipLimit, err := ratelimit.NewPolicies(
		ratelimit.Policy{Name: "ip", Limiter: perIP, Key: ratelimit.ClientIP},
		ratelimit.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	return ipLimit.Middleware, nil
}
