package rediscache

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-go/paved/breaker"
)

// Option configures a Level. Invalid options make New return an error;
// they never panic later.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults, as in the package documentation.
const (
	DefaultTimeout  = 100 * time.Millisecond
	DefaultLockTTL  = 10 * time.Second
	DefaultLockWait = time.Second
)

type config struct {
	prefix     string
	prefixSet  bool
	codec      Codec
	keyCodec   any // keyCodec[K], checked by New
	timeout    time.Duration
	lockTTL    time.Duration
	lockWait   time.Duration
	breakerOpt []breaker.Option
	logger     *slog.Logger
	mp         metric.MeterProvider
	errs       []error
}

func (c *config) fail(err error) { c.errs = append(c.errs, err) }

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

// WithPrefix sets the prefix of every Redis key and of the invalidation
// channel (default "paved:cache:" + name + ":"). It must not contain '{'
// or '}': the part of a key in braces is its Redis Cluster hash tag,
// which rediscache sets itself.
func WithPrefix(p string) Option {
	return optionFunc(func(c *config) {
		if strings.ContainsAny(p, "{}") {
			c.fail(fmt.Errorf("rediscache: WithPrefix: %q contains a brace", p))
			return
		}
		c.prefix, c.prefixSet = p, true
	})
}

// WithCodec sets how values are turned into bytes in Redis (default
// JSON, encoding/json). Every instance sharing the keys must use the same
// codec and value type: a value that does not decode is not used (the
// instance loads the key itself, and does not overwrite it), so give a
// new encoding a new prefix (WithPrefix) when instances of both run.
func WithCodec(codec Codec) Option {
	return optionFunc(func(c *config) {
		if codec == nil {
			c.fail(errors.New("rediscache: WithCodec: nil codec"))
			return
		}
		c.codec = codec
	})
}

type keyCodec[K any] struct {
	format func(K) string
	parse  func(string) (K, error)
}

// WithKeyCodec sets how keys become the strings in Redis keys and
// invalidation messages, and back: parse(format(k)) must return k. It is
// required for key types other than string and the integer types (named
// types included). K must be the Level's key type, or New fails.
func WithKeyCodec[K comparable](format func(K) string, parse func(string) (K, error)) Option {
	return optionFunc(func(c *config) {
		if format == nil || parse == nil {
			c.fail(errors.New("rediscache: WithKeyCodec: nil function"))
			return
		}
		c.keyCodec = keyCodec[K]{format, parse}
	})
}

// WithTimeout bounds each Redis call (default DefaultTimeout, 100ms). A
// call that takes longer counts as a failure of Redis: the cache goes on
// without the second level for that load, and the breaker (WithBreaker)
// stops calling Redis after a few.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail(fmt.Errorf("rediscache: WithTimeout: %v is not positive", d))
			return
		}
		c.timeout = d
	})
}

// WithLock sets the lock-on-miss: an instance that misses a key in Redis
// locks it for ttl (default DefaultLockTTL, 10s) while it loads, and an
// instance that finds it locked waits up to wait (default
// DefaultLockWait, 1s) for the value before it loads the key itself. The
// lock's ttl bounds how long an instance that crashed while loading keeps
// the others waiting; a load that outlasts it is not written to Redis.
// A wait longer than ttl outwaits an abandoned lock: the waiter takes the
// lock over when it expires. A wait of 0 never waits.
func WithLock(ttl, wait time.Duration) Option {
	return optionFunc(func(c *config) {
		if ttl < time.Millisecond || wait < 0 {
			c.fail(fmt.Errorf("rediscache: WithLock: ttl %v is below 1ms or wait %v is negative", ttl, wait))
			return
		}
		c.lockTTL, c.lockWait = ttl, wait
	})
}

// WithBreaker adds options to the breaker that guards Redis calls, after
// the defaults (5 consecutive failures open it for 5 seconds, and its
// logger and MeterProvider are the Level's). Its name is "rediscache:"
// and the Level's name.
func WithBreaker(opts ...breaker.Option) Option {
	return optionFunc(func(c *config) { c.breakerOpt = append(c.breakerOpt, opts...) })
}

// WithLogger sets the logger (default slog.Default(), read at each use):
// the breaker's state changes, one Warn line each, and failures of the
// invalidation subscriber, once per outage.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for
// paved.cache.second_level.requests and the breaker's metrics (default,
// and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}
