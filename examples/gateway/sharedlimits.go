package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/platform"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
	"github.com/redis/go-redis/v9"
)

// The platform builds the document's rate limits in memory, per process,
// and has no option for a shared store. With -redis the gateway therefore
// enforces every operation's rateLimit a second time, around the
// platform's route, with the same quota in Redis buckets that every
// gateway on that Redis shares: two gateways then let a key launch twice
// a minute in all, not twice each. (The in-process limit inside never
// denies what the shared one allows: it counts a subset of the calls.)
// The shared check runs before the platform's audit and authentication,
// so its 429s are not in the audit trail, and a limit keyed by principal
// stays per process (no principal is known yet there).

// sharedLimits returns the middleware that applies the document's rate
// limits with Redis buckets, for the routes of p.
func sharedLimits(p *platform.Platform, rdb redis.UniversalClient, logger *slog.Logger) (func(http.Handler) http.Handler, error) {
	doc := p.Document()
	deciders := map[string]ratelimit.Decider{}
	opts := []ratelimit.Option{ratelimit.WithAnonymousKey("anonymous"), ratelimit.WithLogger(logger)}
	routes := 0
	for _, rt := range p.Routes() {
		section, ok := rateLimitOf(doc, rt)
		if !ok {
			continue
		}
		q, err := parseQuota(section, rt.ID)
		if err != nil {
			return nil, fmt.Errorf("%s: rateLimit: %w", rt.Pointer, err)
		}
		var key ratelimit.KeyFunc
		switch {
		case q.key == "ip":
			key = ratelimit.ClientIP
		case q.key == "apiKey":
			key = ratelimit.APIKey
		case strings.HasPrefix(q.key, "header:"):
			key = ratelimit.Header(strings.TrimPrefix(q.key, "header:"))
		default:
			logger.Warn("rate limit not shared through Redis: its key is known only inside the platform",
				slog.String("operation", rt.ID), slog.String("key", q.key))
			continue
		}
		d, ok := deciders[q.policy]
		if !ok {
			d, err = redisrate.New("gateway-"+q.policy, rdb, rate.Limit(float64(q.count)/q.per.Seconds()), q.burst,
				redisrate.WithLogger(logger))
			if err != nil {
				return nil, err
			}
			deciders[q.policy] = d
		}
		opts = append(opts, ratelimit.WithRoute(rt.Pattern, ratelimit.Policy{Name: q.policy, Limiter: d, Key: key}))
		routes++
	}
	if routes == 0 {
		return func(next http.Handler) http.Handler { return next }, nil
	}
	ps, err := ratelimit.NewPolicies(ratelimit.Policy{}, opts...)
	if err != nil {
		return nil, err
	}
	return ps.Middleware, nil
}

// rateLimitOf returns an operation's rateLimit section as the platform
// merges it: the root's, the path item's, then the operation's, objects
// merged by key, null removing what it replaces.
func rateLimitOf(doc *openapi3.T, rt platform.Route) (map[string]any, bool) {
	levels := []map[string]any{doc.Extensions}
	if item := doc.Paths.Value(rt.Path); item != nil {
		levels = append(levels, item.Extensions)
	}
	levels = append(levels, rt.Spec.Extensions)
	var cur any
	for _, exts := range levels {
		xp, _ := exts[platform.Extension].(map[string]any)
		if v, ok := xp["rateLimit"]; ok {
			cur = mergeValue(cur, v)
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func mergeValue(base, over any) any {
	bm, ok := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok || !ok2 {
		return over
	}
	out := maps.Clone(bm)
	for k, v := range om {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = mergeValue(out[k], v)
		}
	}
	return out
}

type quota struct {
	count       int
	per         time.Duration
	burst       int
	key, policy string
}

// parseQuota reads a rateLimit section the platform has checked already:
// rate "2/m" or {rate: 2, per: 1m}, burst (default the count), key
// (default ip), policy (default the operationId).
func parseQuota(s map[string]any, operationID string) (quota, error) {
	q := quota{key: "ip", policy: operationID}
	switch r := s["rate"].(type) {
	case string:
		n, unit, _ := strings.Cut(r, "/")
		c, err := strconv.Atoi(n)
		if err != nil || c < 1 {
			return q, fmt.Errorf("rate %q", r)
		}
		if unit != "" && (unit[0] < '0' || unit[0] > '9') && unit[0] != '.' {
			unit = "1" + unit
		}
		if q.per, err = time.ParseDuration(unit); err != nil || q.per <= 0 {
			return q, fmt.Errorf("rate %q", r)
		}
		q.count = c
	case map[string]any:
		c, _ := r["rate"].(float64)
		per, _ := r["per"].(string)
		d, err := time.ParseDuration(per)
		if c < 1 || err != nil || d <= 0 {
			return q, errors.New("rate: want {rate: N, per: duration}")
		}
		q.count, q.per = int(c), d
	default:
		return q, errors.New("no rate")
	}
	q.burst = q.count
	if b, ok := s["burst"].(float64); ok && b >= 1 {
		q.burst = int(b)
	}
	if k, ok := s["key"].(string); ok && k != "" {
		q.key = k
	}
	if p, ok := s["policy"].(string); ok && p != "" {
		q.policy = p
	}
	return q, nil
}
