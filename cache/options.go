package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Option configures a Cache (New) or a ResponseCache (NewResponseCache).
// Invalid options make the constructor return an error; they never panic
// later.
//
// Option is not generic, so options read the same for every key and value
// type. The few options that mention the key and value types (WithOnEvict,
// WithMaxCost) are generic functions whose types are inferred from the
// callback; New checks that they match its K and V and returns an error if
// they do not.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults, as in the package documentation.
const (
	DefaultMaxKeys      = 10_000
	DefaultTTL          = time.Minute
	DefaultJitter       = 0.1
	DefaultLoadTimeout  = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20  // per response, ResponseCache only
	DefaultMaxBytes     = 64 << 20 // all responses, ResponseCache only
)

type config struct {
	name        string
	maxKeys     int
	shards      int // 0: chosen from maxKeys and GOMAXPROCS
	ttl         time.Duration
	ttlSet      bool
	jitter      float64
	swr         time.Duration
	sie         time.Duration
	beta        float64
	negTTL      time.Duration
	negMatch    func(error) bool
	loadTimeout time.Duration
	random      func() float64

	onEvict any   // func(K, V, EvictReason), checked by New
	cost    any   // func(K, V) int64, checked by New
	second  any   // SecondLevel[K, V], checked by New
	maxCost int64 // 0: no cost bound

	logger *slog.Logger
	mp     metric.MeterProvider

	// ResponseCache only.
	maxBody      int64
	maxBytes     int64
	etag         bool
	errorHandler func(http.ResponseWriter, *http.Request, error)
	http         httpConfig // the rest, in http.go

	cacheOnly string // the first Cache-only option given, for NewResponseCache's error
	httpOnly  string // the first ResponseCache-only option given, for New's error
	err       error
}

func newConfig(name string, opts []Option) (*config, error) {
	if name == "" {
		return nil, errors.New("cache: empty name")
	}
	c := &config{
		name:        name,
		maxKeys:     DefaultMaxKeys,
		ttl:         DefaultTTL,
		jitter:      DefaultJitter,
		loadTimeout: DefaultLoadTimeout,
		maxBody:     DefaultMaxBodyBytes,
		maxBytes:    DefaultMaxBytes,
		etag:        true,
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("cache: option %d is nil", i)
		}
		o.apply(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

func cacheOnly(name string, f func(*config)) Option {
	return optionFunc(func(c *config) {
		if c.cacheOnly == "" {
			c.cacheOnly = name
		}
		f(c)
	})
}

func httpOnly(name string, f func(*config)) Option {
	return optionFunc(func(c *config) {
		if c.httpOnly == "" {
			c.httpOnly = name
		}
		f(c)
	})
}

func positive(c *config, opt string, d time.Duration) bool {
	if d <= 0 {
		c.fail(fmt.Errorf("cache: %s: %v is not positive", opt, d))
		return false
	}
	return true
}

func nonNegative(c *config, opt string, d time.Duration) bool {
	if d < 0 {
		c.fail(fmt.Errorf("cache: %s: %v is negative", opt, d))
		return false
	}
	return true
}

// WithMaxKeys bounds the number of keys held, negative entries included
// (default DefaultMaxKeys, 10,000); for a ResponseCache it bounds the
// stored responses. When the cache is full, storing an entry evicts the
// least recently used one of its shard. Every paved package names this
// bound WithMaxKeys.
func WithMaxKeys(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("cache: WithMaxKeys: %d is below 1", n))
			return
		}
		c.maxKeys = n
	})
}

// WithShards splits the cache into n independently locked shards, n a
// power of two from 1 to 256. Each shard holds at most 1/n of the entries
// (and of the cost) and evicts its own least recently used entry. The
// default is 1 shard on up to 2 CPUs or below 4,096 entries, otherwise 4
// shards per CPU, up to 64: see the package documentation for the
// measurement behind it.
func WithShards(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > 256 || n&(n-1) != 0 {
			c.fail(fmt.Errorf("cache: WithShards: %d is not a power of two in [1, 256]", n))
			return
		}
		c.shards = n
	})
}

// WithTTL sets how long a loaded or Set value stays fresh (default 1
// minute), before jitter. A loader can override it per entry with SetTTL.
//
// For a ResponseCache it is the lifetime of a heuristically cacheable
// response that states none (no max-age, s-maxage or Expires); without
// WithTTL (or WithHeuristicFreshness) such responses are stored stale, to
// be revalidated, when they have a validator, and otherwise not at all.
func WithTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if positive(c, "WithTTL", d) {
			c.ttl, c.ttlSet = d, true
		}
	})
}

// WithJitter shortens each entry's TTL by a random fraction of up to f
// (0 <= f < 1, default 0.1), so entries stored together do not all
// expire together. Jitter never lengthens a TTL.
func WithJitter(f float64) Option {
	return optionFunc(func(c *config) {
		if !(f >= 0 && f < 1) {
			c.fail(fmt.Errorf("cache: WithJitter: %v is not in [0, 1)", f))
			return
		}
		c.jitter = f
	})
}

// WithStaleWhileRevalidate lets Get return an expired value for up to d
// after it expires, at once, while one background load per key refreshes
// it (default 0: off). For a ResponseCache, a response's own
// stale-while-revalidate directive takes precedence.
func WithStaleWhileRevalidate(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if nonNegative(c, "WithStaleWhileRevalidate", d) {
			c.swr = d
		}
	})
}

// WithStaleIfError lets Get return an expired value for up to d after it
// expires when loading a new one fails (default 0: off). A load that
// fails with a negative error (see WithNegativeCache) is not a failure
// here. For a ResponseCache a 500, 502, 503 or 504 response is a failure,
// a response's own stale-if-error directive takes precedence, and
// must-revalidate, proxy-revalidate, s-maxage and no-cache forbid it.
func WithStaleIfError(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if nonNegative(c, "WithStaleIfError", d) {
			c.sie = d
		}
	})
}

// WithEarlyRefresh turns on XFetch probabilistic early refresh: a Get of
// a fresh entry starts a background refresh with probability
// exp(-remaining/(beta*loadTime)), where remaining is the time until the
// entry expires and loadTime is how long its load took. Hot keys are then
// refreshed before they expire, so their callers never wait. beta 1 is
// the XFetch paper's choice; larger values refresh earlier; 0 (the
// default) turns it off.
func WithEarlyRefresh(beta float64) Option {
	return optionFunc(func(c *config) {
		if !(beta >= 0) || math.IsInf(beta, 1) {
			c.fail(fmt.Errorf("cache: WithEarlyRefresh: beta %v is not a finite number >= 0", beta))
			return
		}
		c.beta = beta
	})
}

// WithNegativeCache caches load errors for which match returns true (nil
// match: errors.Is(err, ErrNotFound)) for ttl, so repeated lookups of a
// missing key do not reach the backend. Get returns the cached error. It
// is off by default. match is called outside any lock and must be safe
// for concurrent use.
func WithNegativeCache(ttl time.Duration, match func(err error) bool) Option {
	return cacheOnly("WithNegativeCache", func(c *config) {
		if positive(c, "WithNegativeCache", ttl) {
			c.negTTL, c.negMatch = ttl, match
		}
	})
}

// WithLoadTimeout bounds each load (default 30s): the loader's context is
// canceled after d, and callers waiting for it get an error wrapping
// context.DeadlineExceeded even if the loader never returns. 0 means no
// bound. The loader's context is never canceled by the callers: one
// caller giving up does not fail the load for the others.
func WithLoadTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if nonNegative(c, "WithLoadTimeout", d) {
			c.loadTimeout = d
		}
	})
}

// WithRandom sets the source of randomness for jitter and early refresh:
// a function returning a float64 in [0, 1), safe for concurrent use
// (default math/rand/v2.Float64). Tests pass a seeded source to make
// those decisions repeatable.
func WithRandom(f func() float64) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.fail(errors.New("cache: WithRandom: nil function"))
			return
		}
		c.random = f
	})
}

// EvictReason says why an entry left the cache.
type EvictReason int

// Reasons passed to a WithOnEvict callback.
const (
	EvictedCapacity EvictReason = iota + 1 // removed to make room (entries or cost)
	EvictedReplaced                        // replaced by a newer value for its key
	EvictedDeleted                         // removed by Delete or Purge
)

// String returns the reason's name.
func (r EvictReason) String() string {
	switch r {
	case EvictedCapacity:
		return "capacity"
	case EvictedReplaced:
		return "replaced"
	case EvictedDeleted:
		return "deleted"
	}
	return "unknown"
}

// WithOnEvict calls fn with each value that leaves the cache and why,
// after the cache's locks are released, in the goroutine that caused it:
// Set, Delete, Purge, or a load's own goroutine, before the Gets waiting
// for that load return. Negative entries are not reported. K and V must be the cache's key and
// value types, or New fails.
func WithOnEvict[K comparable, V any](fn func(key K, value V, reason EvictReason)) Option {
	return cacheOnly("WithOnEvict", func(c *config) {
		if fn == nil {
			c.fail(errors.New("cache: WithOnEvict: nil function"))
			return
		}
		c.onEvict = fn
	})
}

// WithMaxCost bounds the total cost of the entries, cost(key, value) each,
// in addition to the entry count. A value costing more than max/shards is
// returned but not stored. cost runs outside any lock and must be safe
// for concurrent use. K and V must be the cache's key and value types, or
// New fails.
func WithMaxCost[K comparable, V any](max int64, cost func(key K, value V) int64) Option {
	return cacheOnly("WithMaxCost", func(c *config) {
		if max < 1 || cost == nil {
			c.fail(fmt.Errorf("cache: WithMaxCost: max %d is below 1 or cost is nil", max))
			return
		}
		c.maxCost, c.cost = max, cost
	})
}

// WithLogger sets the logger for loader panics (Error, with the panic
// value and stack) and for failed loads and second-level calls (Debug,
// with the error's text) (default slog.Default(), read at each use). The
// cache logs no keys or values of its own; keep them out of loaders'
// errors and panics if they must not be logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithMeterProvider sets the MeterProvider for paved.cache.requests and
// paved.cache.load.duration (default, and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}
