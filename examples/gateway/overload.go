package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/paved-go/paved/overload"
)

// The gateway protects itself and its upstream from overload:
//
//   - its API routes share an adaptive concurrency limit, learnt from
//     their latency (Gradient2). When the upstream slows down and calls
//     queue up, the limit falls and the lowest class is shed first, with
//     503 and Retry-After. Launching (POST /instances) is critical and
//     listing (GET /instances) sheddable: a burst of list calls cannot
//     keep anyone from launching. Health, metrics and the fault switch
//     are never limited;
//   - its calls to the upstream go through client-side adaptive
//     throttling (the SRE book's): while the upstream refuses calls for
//     overload (429, 503), the gateway drops a growing share of them
//     itself, without sending them. The throttle sits outside each
//     operation's breaker (platform.WithUpstreamLayer), so the calls it
//     drops are not breaker failures, and a list it drops is answered
//     from the last good list, as one the breaker rejects.

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

// throttleRandom, when not nil, replaces the throttle's random draws (tests
// make its decisions deterministic).
var throttleRandom func() float64

// newThrottle returns the client-side throttle of upstream calls. Its
// window is 10 s, not the SRE book's 2 minutes: the demo upstream's
// refusals come and go with the fault switch, and the gateway should send
// again soon after they stop.
func newThrottle(logger *slog.Logger) (*overload.Throttle, error) {
	opts := []overload.Option{overload.WithThrottleWindow(10 * time.Second), overload.WithLogger(logger)}
	if throttleRandom != nil {
		opts = append(opts, overload.WithRandom(throttleRandom))
	}
	return overload.NewThrottle("upstream", opts...)
}

// throttled returns the layer platform.WithUpstreamLayer puts around each
// operation's breaker: th's Transport, and for a call th drops, the
// fallback's answer when it has one (the last good list).
func throttled(th *overload.Throttle, fallback func(*http.Request, error) (*http.Response, error)) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		t := th.Transport(next)
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := t.RoundTrip(r)
			if err != nil && fallback != nil && errors.Is(err, overload.ErrThrottled) {
				if fb, ferr := fallback(r, err); fb != nil || ferr != nil {
					return fb, ferr
				}
			}
			return resp, err
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
