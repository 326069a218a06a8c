package main

import (
	"log/slog"
	"time"

	"github.com/paved-go/paved/overload"
)

// The gateway protects itself from overload: its API routes share an
// adaptive concurrency limit, learnt from their latency (Gradient2). When
// the upstream slows down and calls queue up, the limit falls and the
// lowest class is shed first, with 503 and Retry-After. Launching
// (POST /instances) is critical and listing (GET /instances) sheddable: a
// burst of list calls cannot keep anyone from launching. Health, metrics
// and the fault switch are never limited.

// newLimiter returns the adaptive limit of the gateway's API routes.
func newLimiter(logger *slog.Logger) (*overload.Limiter, error) {
	return overload.NewLimiter("gateway",
		overload.WithRouteClass("POST /instances", overload.Critical),
		overload.WithRouteClass("GET /instances", overload.Sheddable),
		overload.WithQueue(32),
		overload.WithMaxWait(100*time.Millisecond),
		overload.WithLogger(logger))
}

// unlimited are the routes the adaptive limit never applies to.
var unlimited = map[string]bool{
	"GET /healthz":         true,
	"GET /admin/faults":    true,
	"POST /admin/faults":   true,
	"DELETE /admin/faults": true,
}
