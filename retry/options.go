package retry

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/net/http/httpguts"
)

// Option configures a Retrier.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	name           string
	maxAttempts    int
	maxElapsed     time.Duration
	attemptTimeout time.Duration
	backoff        Backoff
	maxServerDelay time.Duration
	budget         *Budget
	budgetSet      bool
	retryIf        func(error) bool
	hedgeDelay     time.Duration
	hedging        bool
	waitHalfOpen   bool
	idempotencyKey bool
	attemptHeader  string
	logger         *slog.Logger
	meterProvider  metric.MeterProvider
	errs           []error
}

func newConfig(name string, opts ...Option) (config, error) {
	c := config{
		name:           name,
		maxAttempts:    3,
		backoff:        FullJitter(100*time.Millisecond, 10*time.Second),
		maxServerDelay: 10 * time.Second,
	}
	if name == "" {
		c.fail("New: empty name")
	}
	for i, o := range opts {
		if o == nil {
			c.fail("New: option %d is nil", i)
			continue
		}
		o.apply(&c)
	}
	if err := c.backoff.validate(); err != nil {
		c.errs = append(c.errs, err)
	}
	if err := errors.Join(c.errs...); err != nil {
		return c, err
	}
	if !c.budgetSet {
		c.budget, _ = NewBudget(0.2, 10)
	}
	return c, nil
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("retry: "+format, args...))
}

// WithMaxAttempts sets how many attempts are made at most, the first one
// included (default 3). 1 disables retries.
func WithMaxAttempts(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("WithMaxAttempts(%d): at least 1 attempt is needed", n)
			return
		}
		c.maxAttempts = n
	})
}

// WithMaxElapsed caps the time from the first attempt to the start of the
// last one; a retry that would start later is not made (default 0: only the
// context's deadline limits).
func WithMaxElapsed(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.fail("WithMaxElapsed(%v): negative", d)
			return
		}
		c.maxElapsed = d
	})
}

// WithAttemptTimeout gives each attempt its own timeout (default 0: none).
// An attempt that times out is retried; the caller's own deadline is never
// extended. In Transport it also bounds requests that are not retried, and
// covers reading the response body, until the body is closed.
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.fail("WithAttemptTimeout(%v): negative", d)
			return
		}
		c.attemptTimeout = d
	})
}

// WithBackoff sets the wait between attempts (default
// FullJitter(100ms, 10s)). With WithHedging there is none: a failed
// attempt's successor starts at once, as gRPC's hedging does.
func WithBackoff(b Backoff) Option {
	return optionFunc(func(c *config) { c.backoff = b })
}

// WithMaxServerDelay caps how long a server may ask the client to wait
// (Retry-After, grpc-retry-pushback-ms, with WithWaitForHalfOpen an open
// breaker's time until half-open): a longer wait is not waited out, the
// retries stop at once with the last error (default 10s).
func WithMaxServerDelay(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.fail("WithMaxServerDelay(%v): negative", d)
			return
		}
		c.maxServerDelay = d
	})
}

// WithWaitForHalfOpen(true) makes a call a circuit breaker rejected (an
// error that is breaker.ErrOpen or breaker.ErrTooManyRequests) wait until
// the breaker lets probes through again, and retry then, as long as that
// wait is within WithMaxServerDelay and the caller's deadline. By default
// (false) a breaker's rejection ends the retries at once: the breaker
// already knows the upstream is down, and the caller gets the breaker's
// error, with its time until half-open, to answer 503 with Retry-After
// rather than hold the request for the whole open time.
func WithWaitForHalfOpen(wait bool) Option {
	return optionFunc(func(c *config) { c.waitHalfOpen = wait })
}

// WithBudget sets the retry budget; share one Budget between the Retriers
// of one upstream. nil disables the budget. By default each Retrier has
// its own NewBudget(0.2, 10).
func WithBudget(b *Budget) Option {
	return optionFunc(func(c *config) { c.budget, c.budgetSet = b, true })
}

// WithRetryIf sets which errors are retried. The default retries every
// error except Permanent ones and the caller's own context ending; errors
// that carry a server hint are handled by the hint. retryIf never sees
// Permanent errors.
func WithRetryIf(retryIf func(error) bool) Option {
	return optionFunc(func(c *config) {
		if retryIf == nil {
			c.fail("WithRetryIf: nil function")
			return
		}
		c.retryIf = retryIf
	})
}

// WithHedging turns on hedged requests for idempotent work: when an
// attempt has not answered after delay, another one starts beside it (up
// to the maximum attempts in flight), the first good answer wins and the
// others are canceled. A delay of 0 means the observed 95th percentile
// latency of recent attempts (50ms until 20 attempts have been seen).
// A failed attempt decides at once, even while others are in flight: an
// error not worth retrying, or a server hint saying "stop" or asking for
// more than WithMaxServerDelay, cancels the others and ends the call with
// it; a retryable error starts the next attempt at once, or after the
// server's hint. Hedges count against the retry budget. The function
// given to Do or Call then runs concurrently with itself and must be safe
// for that.
func WithHedging(delay time.Duration) Option {
	return optionFunc(func(c *config) {
		if delay < 0 {
			c.fail("WithHedging(%v): negative delay", delay)
			return
		}
		c.hedging, c.hedgeDelay = true, delay
	})
}

// WithIdempotencyKey makes Transport add a generated Idempotency-Key
// header to POST and PATCH requests that have none, so they may be
// retried; use it only with servers that honour the key. The key is a
// random UUID sent as a structured-field string ("…", quoted), the form
// the Idempotency-Key draft defines and package idempotency parses.
func WithIdempotencyKey() Option {
	return optionFunc(func(c *config) { c.idempotencyKey = true })
}

// WithAttemptHeader makes Transport send the attempt number (1, 2, ...) in
// the named header, e.g. "Retry-Attempt" (default: no header).
func WithAttemptHeader(name string) Option {
	return optionFunc(func(c *config) {
		if !httpguts.ValidHeaderFieldName(name) {
			c.fail("WithAttemptHeader(%q): not a valid header name", name)
			return
		}
		c.attemptHeader = http.CanonicalHeaderKey(name)
	})
}

// WithLogger sets the logger for retry decisions, logged at Debug
// (default slog.Default(), read at each use).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for paved.retry.attempts and
// paved.retry.budget.exhausted (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
