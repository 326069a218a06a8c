package redisidempotency

import (
	"errors"
	"strconv"
	"time"

	"github.com/paved-go/paved/internal/redisx"
)

// Defaults, as in the package documentation.
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "paved:idempotency:"
	// DefaultTimeout bounds one call's round trip to Redis. It is long
	// next to a round trip (tens of microseconds) because a failed call
	// costs a request: a failed Begin answers 503, and a failed Complete
	// leaves the key in progress until its lockTTL, so that retries are
	// refused until then.
	DefaultTimeout = time.Second
)

// Option configures a Store. Invalid options make New return an error.
type Option interface{ apply(*config) }

type config struct {
	prefix  string
	timeout time.Duration
	err     error
}

func newConfig(opts []Option) (config, error) {
	c := config{prefix: DefaultPrefix, timeout: DefaultTimeout}
	for i, o := range opts {
		if o == nil {
			return c, errors.New("redisidempotency: option " + strconv.Itoa(i) + " is nil")
		}
		o.apply(&c)
	}
	return c, c.err
}

func (c *config) fail(msg string) {
	if c.err == nil {
		c.err = errors.New("redisidempotency: " + msg)
	}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithPrefix sets what every key of the store starts with (default
// DefaultPrefix, "paved:idempotency:"), to keep its keys apart from other
// data in the same Redis, or the records of one service from another's.
// A record's key is the prefix followed by the key the middleware gives
// (already scoped and hashed). The prefix may be empty; it must be
// printable ASCII without '{' or '}': braces would make the prefix a
// Redis Cluster hash tag and put every record in one slot.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) {
		if !redisx.ValidKeyPart(prefix) {
			c.fail("WithPrefix: prefix must be printable ASCII without '{' or '}'")
			return
		}
		c.prefix = prefix
	})
}

// WithTimeout bounds each call's round trip to Redis (default
// DefaultTimeout, 1 s); a call that takes longer returns an error, as
// does one whose context ends first. d must be positive. The client must
// have ContextTimeoutEnabled set for a deadline to cut a call short (see
// New).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail("WithTimeout: timeout must be positive")
			return
		}
		c.timeout = d
	})
}
