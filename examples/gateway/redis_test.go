package main

import (
	"testing"

	"github.com/paved-go/paved/internal/redistest"
)

// TestGatewaySharedLimits: two gateways on one Redis (-redis) share the
// launch limit of 2 a minute per key: two launches on one, and the third,
// on the other, is 429.
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
}
