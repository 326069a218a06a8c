package overload

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// WithAlgorithm sets how a Limiter adapts its limit: Gradient2, the
// default, or AIMD.
func WithAlgorithm(a Algorithm) Option {
	return newOption("WithAlgorithm", forLimiter, func(c *config) error {
		if a != Gradient2 && a != AIMD {
			return errors.New("overload: WithAlgorithm: unknown algorithm " + strconv.Itoa(int(a)))
		}
		c.limiter.algorithm = a
		return nil
	})
}

// WithLimits bounds a Limiter's limit to [minLimit, maxLimit]. The
// defaults are DefaultMinLimit (3) and DefaultMaxLimit (1000). The no-load
// RTT is measured at minLimit.
func WithLimits(minLimit, maxLimit int) Option {
	return newOption("WithLimits", forLimiter, func(c *config) error {
		if minLimit < 1 || maxLimit < minLimit {
			return errors.New("overload: WithLimits: need 1 <= min <= max, got " + strconv.Itoa(minLimit) + ", " + strconv.Itoa(maxLimit))
		}
		c.limiter.minLimit, c.limiter.maxLimit = minLimit, maxLimit
		return nil
	})
}

// WithInitialLimit sets the limit a Limiter adapts from once it has
// measured the no-load RTT. The default is DefaultInitialLimit (20).
func WithInitialLimit(n int) Option {
	return newOption("WithInitialLimit", forLimiter, func(c *config) error {
		if n < 1 {
			return errors.New("overload: WithInitialLimit: must be at least 1, got " + strconv.Itoa(n))
		}
		c.limiter.initialLimit = n
		return nil
	})
}

// WithTolerance sets how much above the no-load RTT a window's average
// RTT may be before the limit is cut: 1.05, the default, allows 5%.
func WithTolerance(f float64) Option {
	return newOption("WithTolerance", forLimiter, func(c *config) error {
		if !(f >= 1) || math.IsInf(f, 1) {
			return errors.New("overload: WithTolerance: must be a finite number >= 1")
		}
		c.limiter.tolerance = f
		return nil
	})
}

// WithWindow sets how often a Limiter updates its limit from the RTTs
// sampled since the last update. The default is DefaultWindow (100 ms).
func WithWindow(d time.Duration) Option {
	return newOption("WithWindow", forLimiter, func(c *config) error {
		if d <= 0 {
			return errors.New("overload: WithWindow: duration must be positive, got " + d.String())
		}
		c.limiter.window = d
		return nil
	})
}

// WithMinRTTInterval sets how often (+-15% jitter) a Limiter drops its
// limit to the minimum to measure the no-load RTT again; 0 measures it
// only at start. The default is DefaultMinRTTInterval (one minute).
func WithMinRTTInterval(d time.Duration) Option {
	return newOption("WithMinRTTInterval", forLimiter, func(c *config) error {
		if d < 0 {
			return errors.New("overload: WithMinRTTInterval: negative duration " + d.String())
		}
		c.limiter.minRTTInterval = d
		return nil
	})
}

// WithClassShares sets the share of the limit Sheddable and Default calls
// may fill: a Sheddable call is admitted only while fewer than
// sheddable×limit calls are in flight. Critical calls always have the
// whole limit. The defaults are 0.8 and 0.95; 0 < sheddable <= def <= 1.
func WithClassShares(sheddable, def float64) Option {
	return newOption("WithClassShares", forLimiter, func(c *config) error {
		if !(sheddable > 0 && sheddable <= def && def <= 1) {
			return errors.New("overload: WithClassShares: need 0 < sheddable <= default <= 1")
		}
		c.limiter.shares = [3]float64{sheddable, def, 1}
		return nil
	})
}

// WithClassHeader makes Middleware read a request's class from the header
// name ("critical", "default" or "sheddable"; anything else is Default).
// Only trust it from callers you control: strip it at the edge.
func WithClassHeader(name string) Option {
	return newOption("WithClassHeader", forLimiter, func(c *config) error {
		if name == "" {
			return errors.New("overload: WithClassHeader: empty header name")
		}
		c.limiter.classHeader = http.CanonicalHeaderKey(name)
		return nil
	})
}

// WithRouteClass gives Middleware's requests for the http.ServeMux pattern
// (such as "POST /instances") the class c. It takes precedence over
// WithClassHeader. The pattern is r.Pattern inside a mux, or found by
// matching the patterns outside one.
func WithRouteClass(pattern string, c Class) Option {
	return newOption("WithRouteClass", forLimiter, func(cfg *config) (err error) {
		defer func() {
			if recover() != nil {
				err = errors.New("overload: WithRouteClass: invalid pattern " + strconv.Quote(pattern))
			}
		}()
		http.NewServeMux().Handle(pattern, http.NotFoundHandler()) // validates pattern
		if cfg.limiter.routes == nil {
			cfg.limiter.routes = make(map[string]Class)
		}
		cfg.limiter.routes[pattern] = c
		return nil
	})
}

// WithClassifier gives Middleware's requests the class f returns, in
// place of WithRouteClass and WithClassHeader. f runs on every request
// and must be fast.
func WithClassifier(f func(*http.Request) Class) Option {
	return newOption("WithClassifier", forLimiter, func(c *config) error {
		if f == nil {
			return errors.New("overload: WithClassifier: nil function")
		}
		c.limiter.classifier = f
		return nil
	})
}
