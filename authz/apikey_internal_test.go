package authz

import (
	"context"
	"net/http"
	"testing"
)

// TestAPIKeyDigestCompare: a key found by its digest is accepted only
// through the constant-time comparison.
func TestAPIKeyDigestCompare(t *testing.T) {
	a, err := NewAPIKeys(map[string]*Principal{"k-0123456789abcdef": {ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	orig := digestEqual
	t.Cleanup(func() { digestEqual = orig })
	calls := 0
	digestEqual = func(x, y [32]byte) bool {
		calls++
		return orig(x, y)
	}
	if _, err := a.Authenticate(context.Background(), http.Header{"X-Api-Key": {"k-0123456789abcdef"}}); err != nil || calls != 1 {
		t.Fatalf("known key: err %v, %d constant-time comparisons, want 1", err, calls)
	}
	// A comparison that fails refuses the key, whatever the map said.
	digestEqual = func(x, y [32]byte) bool { calls++; return false }
	if _, err := a.Authenticate(context.Background(), http.Header{"X-Api-Key": {"k-0123456789abcdef"}}); err == nil || calls != 2 {
		t.Fatalf("failed comparison: err %v, calls %d", err, calls)
	}
}
