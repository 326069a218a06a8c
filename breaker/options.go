package breaker

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Option configures a Breaker (New) or every breaker of a Registry
// (NewRegistry). Invalid options make New and NewRegistry return an error;
// they never panic later.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults, as in the package documentation.
const (
	DefaultFailureRate  = 0.5
	DefaultMinCalls     = 10
	DefaultCountWindow  = 20
	DefaultOpenDuration = 30 * time.Second
	DefaultProbes       = 3
	DefaultMaxKeys      = 10_000
)

// maxWindow bounds count windows and probes: gobreaker counts in uint32,
// and a window is one byte per call.
const maxWindow = 1 << 20

type config struct {
	rate        float64
	minCalls    int
	countWindow int           // > 0: failure rate over the last countWindow calls
	timeWindow  time.Duration // > 0: failure rate over a rolling time window
	buckets     int
	consecutive int // > 0: trip on this many failures in a row instead

	openFor    time.Duration
	growth     float64 // > 1: each consecutive re-open multiplies openFor
	maxOpenFor time.Duration
	probes     int
	slow       time.Duration

	classify      Classifier
	fallback      func(context.Context, error) error
	dryRun        bool
	onStateChange func(name string, from, to State)

	logger *slog.Logger
	mp     metric.MeterProvider

	errorHandler      func(http.ResponseWriter, *http.Request, error)
	transportFallback func(*http.Request, error) (*http.Response, error)
	failureStatus     func(int) bool
	filter            func(*http.Request) bool

	maxKeys    int
	requestKey func(*http.Request) string
	metricName string
	registry   string // the first Registry-only option given, for New's error
	name       string // a Registry's name on the status page (WithName)

	shared      SharedStore // nil: local state only (shared.go)
	sharedRetry time.Duration

	err error
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		rate:        DefaultFailureRate,
		minCalls:    DefaultMinCalls,
		countWindow: DefaultCountWindow,
		openFor:     DefaultOpenDuration,
		probes:      DefaultProbes,
		maxKeys:     DefaultMaxKeys,
	}
	for i, o := range opts {
		if o == nil {
			c.fail(fmt.Errorf("breaker: option %d is nil", i))
			continue
		}
		o.apply(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.consecutive == 0 && c.countWindow > 0 && c.minCalls > c.countWindow {
		return nil, fmt.Errorf("breaker: minimum calls %d exceed the count window of %d calls, so the breaker could never open", c.minCalls, c.countWindow)
	}
	if c.growth > 1 && c.maxOpenFor < c.openFor {
		return nil, fmt.Errorf("breaker: open duration cap %v is below the open duration %v", c.maxOpenFor, c.openFor)
	}
	if err := c.checkShared(); err != nil {
		return nil, err
	}
	if c.classify == nil {
		c.classify = DefaultClassifier
	}
	return c, nil
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// openDuration is how long the breaker stays open after its n-th
// consecutive re-open (0 for the first opening).
func (c *config) openDuration(n int) time.Duration {
	if c.growth <= 1 || n == 0 {
		return c.openFor
	}
	d := float64(c.openFor) * math.Pow(c.growth, float64(n))
	if d >= float64(c.maxOpenFor) {
		return c.maxOpenFor
	}
	return time.Duration(d)
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

// WithFailureRate opens the breaker when at least rate (0 < rate <= 1) of
// the calls in its window failed, once the window holds at least minCalls
// calls (default 0.5 and 10).
func WithFailureRate(rate float64, minCalls int) Option {
	return optionFunc(func(c *config) {
		if !(rate > 0 && rate <= 1) {
			c.fail(fmt.Errorf("breaker: WithFailureRate: rate %v is not in (0, 1]", rate))
			return
		}
		if minCalls < 1 {
			c.fail(fmt.Errorf("breaker: WithFailureRate: minimum calls %d is below 1", minCalls))
			return
		}
		c.rate, c.minCalls = rate, minCalls
	})
}

// WithCountWindow makes the failure rate count the last n calls (the
// default, with n = 20). It replaces WithTimeWindow.
func WithCountWindow(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > maxWindow {
			c.fail(fmt.Errorf("breaker: WithCountWindow: %d calls is not in [1, %d]", n, maxWindow))
			return
		}
		c.countWindow, c.timeWindow, c.buckets = n, 0, 0
	})
}

// WithTimeWindow makes the failure rate count the calls of the last
// window, kept in buckets rolling buckets (gobreaker's rolling window:
// the oldest bucket is dropped every window/buckets). It replaces the
// count window.
func WithTimeWindow(window time.Duration, buckets int) Option {
	return optionFunc(func(c *config) {
		if window <= 0 {
			c.fail(fmt.Errorf("breaker: WithTimeWindow: window %v is not positive", window))
			return
		}
		if buckets < 1 || buckets > 1000 || window/time.Duration(buckets) <= 0 {
			c.fail(fmt.Errorf("breaker: WithTimeWindow: %d buckets is not in [1, 1000] or makes buckets shorter than 1ns", buckets))
			return
		}
		c.timeWindow, c.buckets, c.countWindow = window, buckets, 0
	})
}

// WithConsecutiveFailures opens the breaker after n failures in a row,
// instead of by failure rate.
func WithConsecutiveFailures(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > maxWindow {
			c.fail(fmt.Errorf("breaker: WithConsecutiveFailures: %d is not in [1, %d]", n, maxWindow))
			return
		}
		c.consecutive = n
	})
}

// WithOpenDuration sets how long the breaker stays open before it lets
// probes through (default 30s).
func WithOpenDuration(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail(fmt.Errorf("breaker: WithOpenDuration: %v is not positive", d))
			return
		}
		c.openFor = d
	})
}

// WithOpenDurationGrowth multiplies the open duration by factor (> 1) each
// time a failed probe re-opens the breaker, up to limit; closing resets
// it. By default the open duration does not grow.
func WithOpenDurationGrowth(factor float64, limit time.Duration) Option {
	return optionFunc(func(c *config) {
		if !(factor > 1) || math.IsInf(factor, 1) {
			c.fail(fmt.Errorf("breaker: WithOpenDurationGrowth: factor %v is not above 1", factor))
			return
		}
		c.growth, c.maxOpenFor = factor, limit
	})
}

// WithHalfOpenProbes sets how many calls a half-open breaker lets through
// (default 3); that many successes in a row close it, one failure re-opens it.
func WithHalfOpenProbes(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > maxWindow {
			c.fail(fmt.Errorf("breaker: WithHalfOpenProbes: %d is not in [1, %d]", n, maxWindow))
			return
		}
		c.probes = n
	})
}

// WithSlowCallThreshold counts a call that took longer than d as a failure
// (outcome "slow") even when it succeeded. Zero, the default, disables the
// check; it costs two clock reads per call when enabled. Transport leaves
// out the time the caller takes to send a request body (see the package
// doc), which costs a request with a body an httptrace.ClientTrace and a
// few allocations.
func WithSlowCallThreshold(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.fail(fmt.Errorf("breaker: WithSlowCallThreshold: %v is negative", d))
			return
		}
		c.slow = d
	})
}

// WithClassifier decides how a call's error counts (default, and for nil,
// DefaultClassifier). It runs once per finished call, outside any lock.
// The HTTP adapters hand it a *StatusError for failure statuses.
func WithClassifier(classify Classifier) Option {
	return optionFunc(func(c *config) { c.classify = classify })
}

// WithFallback is run by Do and Call when the breaker rejects a call or the
// call fails (outcome Failure; not for ignored or slow-but-successful
// calls), with that error; what it returns is what Do returns. Serve a last
// good value from it, or return a friendlier error. Nil means none.
func WithFallback(fallback func(ctx context.Context, err error) error) Option {
	return optionFunc(func(c *config) { c.fallback = fallback })
}

// WithDryRun runs the breaker in shadow mode: it computes its state, logs
// transitions and records metrics (a call it would have rejected counts as
// "rejected"), but lets every call through, so thresholds can be tuned on
// production traffic first.
func WithDryRun(on bool) Option {
	return optionFunc(func(c *config) { c.dryRun = on })
}

// WithOnStateChange calls fn after each state transition, in order, outside
// the breaker's locks, on the goroutine of a call that observed it; fn may
// call the breaker. Nil means none.
func WithOnStateChange(fn func(name string, from, to State)) Option {
	return optionFunc(func(c *config) { c.onStateChange = fn })
}

// WithLogger sets the logger for state transitions, one Warn line each
// (default slog.Default(), read at each use). Nil means the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for paved.breaker.calls and
// paved.breaker.state (default, and for nil, the global one at
// construction). There is no WithTracerProvider: a breaker starts no
// spans; its breaker.rejected events go on the span already in the call's
// context, whichever provider started it.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}
