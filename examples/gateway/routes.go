package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// route is one API operation the gateway proxies to the upstream.
type route struct {
	pattern string
	// timeout bounds the whole call: every retry and backoff wait, and
	// the response, end by then, with 504. Retries never extend it.
	timeout time.Duration
}

// apiRoutes are the operations the gateway exposes, with their default
// deadlines: reads are quick or useless, writes get longer.
var apiRoutes = []route{
	{"GET /instances", 5 * time.Second},
	{"GET /instances/{id}", 5 * time.Second},
	{"POST /instances", 10 * time.Second},
	{"POST /instances/{id}/terminate", 10 * time.Second},
}

// adminTimeout bounds calls to the upstream's fault switch.
const adminTimeout = 5 * time.Second

// routeTimeouts is the -route-timeout flag: per-route deadlines that
// replace the defaults, given as "PATTERN=DURATION", repeatable.
type routeTimeouts map[string]time.Duration

func (rt routeTimeouts) String() string {
	parts := make([]string, 0, len(rt))
	for p, d := range rt {
		parts = append(parts, p+"="+d.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (rt routeTimeouts) Set(s string) error {
	pattern, value, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want PATTERN=DURATION, such as %q", "GET /instances=2s")
	}
	pattern = strings.TrimSpace(pattern)
	if !slices.ContainsFunc(apiRoutes, func(r route) bool { return r.pattern == pattern }) {
		known := make([]string, len(apiRoutes))
		for i, r := range apiRoutes {
			known[i] = fmt.Sprintf("%q", r.pattern)
		}
		return fmt.Errorf("no route %q; routes: %s", pattern, strings.Join(known, ", "))
	}
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration", value)
	}
	rt[pattern] = d
	return nil
}

// timeout returns the deadline of the route with pattern: the one set in
// rt, else the route's default.
func (rt routeTimeouts) timeout(r route) time.Duration {
	if d, ok := rt[r.pattern]; ok {
		return d
	}
	return r.timeout
}

// withDeadline serves next with a context that ends after d, so the
// upstream call, its retries and their backoff waits all end by then.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
