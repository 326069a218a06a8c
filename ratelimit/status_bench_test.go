package ratelimit_test

import (
	"context"
	"testing"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/ratelimit"
)

// BenchmarkEnforcerStatus measures a policy's decisions registered on
// the status page and not (registration off): the status page reads the
// policy only when it is asked, so the two should not differ. The limited
// path counts the rejection the page reports.
func BenchmarkEnforcerStatus(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		limit rate.Limit
		burst int
	}{
		{"allowed", benchLimit, benchBurst},
		{"limited", rate.Every(1e9), 1},
	} {
		for _, registered := range []bool{false, true} {
			name := bc.name + "/unregistered"
			if registered {
				name = bc.name + "/registered"
			}
			b.Run(name, func(b *testing.B) {
				registry.SetEnabled(registered)
				defer registry.SetEnabled(true)
				k, _ := ratelimit.NewKeyed(bc.limit, bc.burst)
				e, err := ratelimit.NewEnforcer("bench", k)
				if err != nil {
					b.Fatal(err)
				}
				e.Allow(ctx, "GET /", "198.51.100.7")
				b.ReportAllocs()
				for b.Loop() {
					sinkBool = e.Allow(ctx, "GET /", "198.51.100.7") == nil
				}
			})
		}
	}
}
