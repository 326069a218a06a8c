package redisrate

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/redisx"
	"github.com/paved-go/paved/ratelimit"
)

// Option configures a Limiter. Invalid options make New return an error.
type Option interface{ apply(*config) }

// Defaults, as in the package documentation.
const (
	// DefaultPrefix starts every key the limiter writes.
	DefaultPrefix = "paved:rl:"
	// DefaultTimeout bounds one decision's round trip to Redis.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultBreakerOpenDuration is how long the breaker guarding Redis
	// stays open before it lets a few probe decisions through: shorter
	// than breaker's own default, since the fallback is per instance and
	// shared limits should resume soon after Redis does.
	DefaultBreakerOpenDuration = 5 * time.Second
)

// Fallback is what a Limiter decides by when Redis cannot: when a call
// fails, takes longer than the timeout, or is not made because the
// breaker guarding Redis is open.
type Fallback int

const (
	// Local decides by an in-memory ratelimit.Keyed of the same quota, one
	// per Limiter: each instance limits on its own while Redis is away, so
	// a fleet of n instances lets up to n times the limit through. It is
	// the default: limits stay in force without a shared store, and no
	// request waits for one.
	Local Fallback = iota
	// FailOpen allows every call while Redis is away: Decision{Allowed:
	// true, Remaining: burst}.
	FailOpen
	// FailClosed refuses every call while Redis is away, with RetryAfter
	// the time the bucket takes to gain the tokens asked for.
	FailClosed
)

// String returns "local", "open" or "closed", as logged.
func (f Fallback) String() string {
	switch f {
	case Local:
		return "local"
	case FailOpen:
		return "open"
	case FailClosed:
		return "closed"
	}
	return "Fallback(" + strconv.Itoa(int(f)) + ")"
}

type config struct {
	prefix      string
	timeout     time.Duration
	fallback    Fallback
	maxKeys     int
	breakerOpts []breaker.Option
	logger      *slog.Logger         // nil: slog.Default(), read at each use
	mp          metric.MeterProvider // nil: the global one

	err error
}

func newConfig(opts []Option) (config, error) {
	c := config{
		prefix:  DefaultPrefix,
		timeout: DefaultTimeout,
		maxKeys: ratelimit.DefaultMaxKeys,
	}
	for i, o := range opts {
		if o == nil {
			return c, errors.New("redisrate: option " + strconv.Itoa(i) + " is nil")
		}
		o.apply(&c)
	}
	return c, c.err
}

func (c *config) fail(msg string) {
	if c.err == nil {
		c.err = errors.New("redisrate: " + msg)
	}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPrefix sets what every key of the limiter starts with (default
// DefaultPrefix, "paved:rl:"), to keep its keys apart from other data in
// the same Redis. A bucket's key is prefix + name + ":{" + key + "}". The
// prefix may be empty; it must be printable ASCII without '{' or '}',
// which would move the Redis Cluster hash tag.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) {
		if !redisx.ValidKeyPart(prefix) {
			c.fail("WithPrefix: prefix must be printable ASCII without '{' or '}'")
			return
		}
		c.prefix = prefix
	})
}

// WithTimeout bounds one decision's round trip to Redis (default
// DefaultTimeout, 50 ms); a decision that takes longer is made by the
// fallback, and counts as a failure for the breaker. d must be positive.
// The client must have ContextTimeoutEnabled set for a deadline to cut a
// call short (see New).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("WithTimeout: timeout must be positive")
			return
		}
		c.timeout = d
	})
}

// WithFallback sets what decides while Redis cannot (default Local).
func WithFallback(f Fallback) Option {
	return optionFunc(func(c *config) {
		if f < Local || f > FailClosed {
			c.fail("WithFallback: unknown fallback " + f.String())
			return
		}
		c.fallback = f
	})
}

// WithMaxKeys bounds how many keys the Local fallback holds in memory
// (default ratelimit.DefaultMaxKeys, 100,000); see ratelimit.WithMaxKeys.
// n must be at least 1.
func WithMaxKeys(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail("WithMaxKeys: n must be at least 1")
			return
		}
		c.maxKeys = n
	})
}

// WithBreaker configures the breaker that guards calls to Redis, named
// "redisrate:" + the limiter's name. Its defaults are package breaker's,
// but for an open duration of DefaultBreakerOpenDuration (5 s), and the
// limiter's logger and meter provider; opts come after those and replace
// them. A breaker option that is not valid is an error from New.
func WithBreaker(opts ...breaker.Option) Option {
	return optionFunc(func(c *config) {
		c.breakerOpts = append(c.breakerOpts, opts...)
	})
}

// WithLogger sets the logger for the limiter's and its breaker's log
// lines (default, and for nil, slog.Default() at the time of logging).
// Keys are never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for paved.ratelimit.fallbacks
// and the breaker's paved.breaker.calls and paved.breaker.state (default,
// and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}
