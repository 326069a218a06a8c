package tracing

import (
	"testing"

	"github.com/paved-go/paved/internal/otelx"
)

// The scope users filter on is the one paved's meters use.
func TestScopeNameIsTheMetersScope(t *testing.T) {
	if ScopeName != otelx.ScopeName {
		t.Fatalf("ScopeName %q, meters use %q", ScopeName, otelx.ScopeName)
	}
}
