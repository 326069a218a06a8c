package redisbreaker

import (
	"fmt"
	"time"
)

// Option configures a Store (NewStore). Invalid options make NewStore
// return an error.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults, as in the package documentation.
const (
	DefaultPrefix   = "paved:breaker:"
	DefaultTimeout  = 50 * time.Millisecond
	DefaultLockTTL  = time.Second
	DefaultLockWait = 100 * time.Millisecond
	DefaultStateTTL = 24 * time.Hour
)

type config struct {
	prefix   string
	timeout  time.Duration
	lockTTL  time.Duration
	lockWait time.Duration
	stateTTL time.Duration
	err      error
}

func newConfig(opts []Option) (config, error) {
	c := config{
		prefix:   DefaultPrefix,
		timeout:  DefaultTimeout,
		lockTTL:  DefaultLockTTL,
		lockWait: DefaultLockWait,
		stateTTL: DefaultStateTTL,
	}
	for i, o := range opts {
		if o == nil {
			c.fail(fmt.Errorf("redisbreaker: option %d is nil", i))
			continue
		}
		o.apply(&c)
	}
	if c.err != nil {
		return config{}, c.err
	}
	if c.lockTTL <= c.timeout {
		return config{}, fmt.Errorf("redisbreaker: lock TTL %v is not above the timeout %v: a lock could expire before the calls made under it time out", c.lockTTL, c.timeout)
	}
	return c, nil
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func positive(c *config, option string, d time.Duration) bool {
	if d <= 0 {
		c.fail(fmt.Errorf("redisbreaker: %s: %v is not positive", option, d))
		return false
	}
	return true
}

// WithPrefix sets the prefix of the Store's keys (default
// "paved:breaker:"). An empty prefix is allowed.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithTimeout bounds each Redis call of the Store (default 50ms). A
// breaker whose store times out decides locally, so this is the most a
// slow or dead Redis adds to a call.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if positive(c, "WithTimeout", d) {
			c.timeout = d
		}
	})
}

// WithLockTTL sets the expiry of a breaker's lock (default 1s): how long
// others wait when a holder dies without releasing it. It must exceed
// the timeout.
func WithLockTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if positive(c, "WithLockTTL", d) {
			c.lockTTL = d
		}
	})
}

// WithLockWait bounds how long Lock waits for a lock another holder has
// (default 100ms); then it returns ErrLockTimeout and the breaker
// records that call's outcome locally.
func WithLockWait(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if positive(c, "WithLockWait", d) {
			c.lockWait = d
		}
	})
}

// WithStateTTL sets how long a breaker's state stays in Redis after its
// last write (default 24h), so the state of breakers no longer used
// (keys of a Registry) goes away. A breaker whose state expired writes
// its last known state back on its next call.
func WithStateTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if positive(c, "WithStateTTL", d) {
			c.stateTTL = d
		}
	})
}
