package main

import (
	"testing"

	"github.com/paved-go/paved/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestGatewaySharedLimits: two gateways on one Redis (-redis) share the
// launch limit of 2 a minute per key: two launches on one, and the third,
// on the other, is 429. They share instance lookups too: what one looked
// up for an authorization rule is in Redis for the other.
func TestGatewaySharedLimits(t *testing.T) {
	srv := redistest.Start(t)
	g1 := startGateway(t, "-redis", srv.Addr())
	g2 := startGateway(t, "-redis", srv.Addr())
	launch := `{"compartment":"dev"}`
	for i, g := range []*gatewayProcess{g1, g1} {
		if got := mustDo(t, g, "bob-key", "POST", "/instances", launch); got != 201 {
			t.Fatalf("launch %d: %d", i+1, got)
		}
	}
	if got := mustDo(t, g2, "bob-key", "POST", "/instances", launch); got != 429 {
		t.Fatalf("third launch, on the other gateway: %d, want 429", got)
	}
	// Another key still has its own bucket, on either gateway.
	if got := mustDo(t, g2, "alice-key", "POST", "/instances", `{"compartment":"prod"}`); got != 201 {
		t.Fatalf("another key: %d", got)
	}

	if got := mustDo(t, g1, "bob-key", "GET", "/instances/inst-0003", ""); got != 200 {
		t.Fatalf("read own instance: %d", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), "paved:cache:gateway.instances:*inst-0003*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("Redis keys of the lookup = %q, %v; want one", keys, err)
	}
}

// TestGatewaySharedBreaker: with -redis the upstream breaker's state is
// shared: when it opens on one gateway, the other rejects at once too,
// without having seen a failure itself.
func TestGatewaySharedBreaker(t *testing.T) {
	srv := redistest.Start(t)
	g1 := startGateway(t, "-redis", srv.Addr(), "-breaker-open", "30s")
	g2 := startGateway(t, "-redis", srv.Addr(), "-breaker-open", "30s")
	trip(t, g1)
	var p problem
	resp := g2.do(t, "GET", "/instances/inst-0002", "", "", &p)
	if resp.StatusCode != 503 || p.Detail != "breaker: open" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the other gateway answered %d %+v, Retry-After %q; want 503 breaker: open",
			resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
}
