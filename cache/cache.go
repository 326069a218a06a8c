package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/internal/otelx"
)

// core is the part of a cache that does not depend on its types.
type core struct {
	cfg      *config
	random   func() float64
	requests *otelx.Counter
	loadTime *otelx.Histogram
	nameAttr attribute.KeyValue
	timeout  error
	closed   atomic.Bool
	loads    sync.WaitGroup // running loads, for Close
	watch    watchdog       // times loads out
	// base anchors the cache's clock: now reads only the monotonic clock
	// (time.Since), about half the cost of time.Now.
	base time.Time
	// clk, when set, is the coarse clock that freshness checks on the hit
	// path read instead (see coarseClock); nil, they read now.
	clk *coarseClock
	// status is the cache's registration on the status page; nil when
	// registration is off.
	status *cacheStatus
}

// now returns the current time, from the monotonic clock. Its wall part
// follows base, so it is for deadlines and ages, never for display.
// Deadlines are always computed from it, so that the coarse clock, which
// lags it, can make an entry expire late but never early.
func (c *core) now() time.Time { return c.base.Add(time.Since(c.base)) }

// hitNanos returns the time a hit checks freshness against, as
// nanoseconds since the coarse clock's base (entry.freshNs): the coarse
// clock's last tick when it has one, and the exact time otherwise.
func (c *core) hitNanos() int64 {
	if k := c.clk; k != nil {
		if n, ok := k.read(); ok {
			return n
		}
	}
	return int64(time.Since(clock.base))
}

// Cache is a bounded, coalescing, cache-aside cache of values of type V
// by keys of type K. It is safe for concurrent use. The zero value is not
// usable; call New.
type Cache[K comparable, V any] struct {
	core
	shards  []shard[K, V]
	mask    uint64
	seed    maphash.Seed
	onEvict func(K, V, EvictReason)
	cost    func(K, V) int64
	second  SecondLevel[K, V]
}

// New returns a cache named name, configured by opts. The name labels its
// metrics (the paved.cache.name attribute) and logs; give each cache its
// own. New fails on an empty name, an invalid option, an option meant for
// a ResponseCache, or a WithOnEvict or WithMaxCost callback whose types
// are not K and V.
func New[K comparable, V any](name string, opts ...Option) (*Cache[K, V], error) {
	cfg, err := newConfig(name, opts)
	if err != nil {
		return nil, err
	}
	if cfg.httpOnly != "" {
		return nil, fmt.Errorf("cache: %s applies to a ResponseCache only", cfg.httpOnly)
	}
	c, err := newCache[K, V](cfg)
	if err != nil {
		return nil, err
	}
	// The coarse clock counts monotonic time. Without a monotonic clock
	// (time is fake inside a testing/synctest bubble, and has none), every
	// check reads the exact clock, which is cheap there.
	if c.base != c.base.Round(0) {
		c.clk = clock
		clock.acquire()
	}
	if err := c.attachSecond(); err != nil {
		c.Close()
		return nil, err
	}
	c.register()
	return c, nil
}

func newCache[K comparable, V any](cfg *config) (*Cache[K, V], error) {
	c := &Cache[K, V]{seed: maphash.MakeSeed()}
	c.base = time.Now()
	switch fn := cfg.onEvict.(type) {
	case nil:
	case func(K, V, EvictReason):
		c.onEvict = fn
	default:
		var k K
		var v V
		return nil, fmt.Errorf("cache: WithOnEvict: callback is %T, want func(%T, %T, cache.EvictReason)", fn, k, v)
	}
	switch fn := cfg.cost.(type) {
	case nil:
	case func(K, V) int64:
		c.cost = fn
	default:
		var k K
		var v V
		return nil, fmt.Errorf("cache: WithMaxCost: cost is %T, want func(%T, %T) int64", fn, k, v)
	}
	switch l := cfg.second.(type) {
	case nil:
	case SecondLevel[K, V]:
		c.second = l
	default:
		var k K
		var v V
		return nil, fmt.Errorf("cache: WithSecondLevel: %T is not a cache.SecondLevel[%T, %T]", l, k, v)
	}
	n := cfg.shards
	if n == 0 {
		n = defaultShards(cfg.maxKeys)
	}
	if n > cfg.maxKeys {
		return nil, fmt.Errorf("cache: WithShards: %d shards exceed the %d entries allowed", n, cfg.maxKeys)
	}
	if cfg.maxCost > 0 && cfg.maxCost < int64(n) {
		return nil, fmt.Errorf("cache: WithMaxCost: max %d is below the %d shards", cfg.maxCost, n)
	}
	if err := c.core.init(cfg); err != nil {
		return nil, err
	}
	c.shards = make([]shard[K, V], n)
	c.mask = uint64(n - 1)
	for i := range c.shards {
		s := &c.shards[i]
		s.init(cfg.maxKeys / n) // >= 1: checked above
		s.seed = c.seed
		s.track = c.onEvict != nil
		if cfg.maxCost > 0 {
			s.maxCost = cfg.maxCost / int64(n)
		}
	}
	return c, nil
}

func (c *core) init(cfg *config) error {
	c.cfg = cfg
	c.random = cfg.random
	if c.random == nil {
		c.random = rand.Float64
	}
	c.nameAttr = attribute.String(otelx.AttrCacheName, cfg.name)
	c.timeout = &timeoutError{cfg.loadTimeout}
	c.watch.init(c.now)
	var err error
	if c.requests, err = otelx.CacheRequests(cfg.mp, cfg.name); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if c.loadTime, err = otelx.CacheLoadDuration(cfg.mp, cfg.name); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// defaultShards is 1 on up to 2 CPUs, where more shards measurably did
// not help (see the package documentation), and for small caches, where
// one LRU order is worth more than parallelism; otherwise 4 per CPU, at
// most 64, each holding at least 64 entries, so that goroutines on many
// CPUs rarely meet on one lock.
func defaultShards(maxKeys int) int {
	procs := runtime.GOMAXPROCS(0)
	if procs <= 2 || maxKeys < 4096 {
		return 1
	}
	n := 1
	for n < 4*procs && n < 64 && maxKeys/(2*n) >= 64 {
		n *= 2
	}
	return n
}

func (c *Cache[K, V]) shard(key K) *shard[K, V] {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[hash(c.seed, key)>>58&c.mask]
}

// Get returns the value for key. A fresh value is returned at once. On a
// miss, load is called with a context that carries ctx's values but not
// its cancellation, bounded by WithLoadTimeout, in its own goroutine;
// concurrent Gets of the same key wait for that one load instead of
// starting their own. A Get whose ctx ends stops waiting and returns
// ctx.Err(); the load goes on for the others.
//
// With WithStaleWhileRevalidate an expired value is returned at once
// while one background load refreshes it; with WithStaleIfError an
// expired value is returned when the load fails. A cached negative result
// (WithNegativeCache) is returned as its error. Otherwise Get returns what
// the load returned, a *PanicError if it panicked, an error wrapping
// context.DeadlineExceeded if it timed out, or ErrClosed after Close.
//
// A hit does not allocate and takes no lock, except to move an entry up
// the LRU order once it has aged out of the most recent quarter. It
// judges freshness by a process-wide clock that ticks every millisecond
// (see the package documentation): a value, or a stale-while-revalidate
// window, can outlast its deadline by about a millisecond, never end
// before it. Deadlines, load times and stale-if-error read the exact
// clock.
func (c *Cache[K, V]) Get(ctx context.Context, key K, load func(ctx context.Context, key K) (V, error)) (V, error) {
	now := c.hitNanos()
	h := hash(c.seed, key)
	s := &c.shards[h>>58&c.mask] // at most 64 shards: the high bits, which the table does not use
	var e *entry[V]
	if n := s.find(key, h); n != nil {
		s.touch(n)
		e = &n.entry
	}
	if e != nil && now < e.freshNs {
		if c.cfg.beta > 0 && e.err == nil && xfetch(c.cfg.beta, e.delta, time.Duration(e.freshNs-now), c.random) {
			c.refresh(ctx, s, key, e, load)
		}
		return c.served(ctx, s, e)
	}
	if e != nil && e.err == nil && now < e.swrNs {
		c.refresh(ctx, s, key, e, load)
		return c.servedStale(ctx, s, e, staleRevalidate)
	}
	f, leader, hit, err := c.join(ctx, s, key, load, c.now(), false)
	if err != nil {
		c.requests.Add(ctx, resultError)
		var zero V
		return zero, err
	}
	if hit != nil {
		return c.served(ctx, s, hit)
	}
	if err := c.wait(ctx, f); err != nil {
		s.stats.loaded(leader, nil)
		var zero V
		return zero, err
	}
	var zero V
	switch {
	case f.err == nil:
		s.stats.loaded(leader, nil)
		c.requests.Add(ctx, loadResult(leader))
		return f.val, nil
	case c.negative(f.err):
		s.stats.loaded(leader, nil)
		c.requests.Add(ctx, loadResult(leader))
		return zero, f.err
	case e != nil && e.err == nil && c.now().Before(e.sie):
		return c.servedStale(ctx, s, e, staleError)
	}
	s.stats.loaded(leader, f.err)
	c.requests.Add(ctx, resultError)
	return zero, f.err
}

// served returns a fresh entry's value, or its error for a negative one.
func (c *Cache[K, V]) served(ctx context.Context, s *shard[K, V], e *entry[V]) (V, error) {
	if e.err != nil {
		s.stats.negative.Add(1)
		c.requests.Add(ctx, resultNegative)
		return e.val, e.err
	}
	if s.stats.hit(e.stripe) && c.clk != nil {
		c.clk.catchUp()
	}
	c.requests.Add(ctx, resultHit)
	return e.val, nil
}

func (c *Cache[K, V]) servedStale(ctx context.Context, s *shard[K, V], e *entry[V], why attribute.KeyValue) (V, error) {
	s.stats.stale.Add(1)
	c.requests.Add(ctx, resultStale)
	otelx.AddEvent(ctx, otelx.EventCacheStaleServed, c.nameAttr, why)
	return e.val, nil
}

// Peek returns the value for key if a fresh one is stored, without
// loading, counting or updating its recency. It judges freshness as Get
// does.
func (c *Cache[K, V]) Peek(key K) (V, bool) {
	now := c.hitNanos()
	e, ok := c.shard(key).peek(key)
	if !ok || e.err != nil || now >= e.freshNs {
		var zero V
		return zero, false
	}
	return e.val, true
}

// Set stores value for key with the configured TTL, replacing what is
// stored. A load of key already running when Set is called still returns
// its result to the Gets waiting for it, but does not overwrite value.
func (c *Cache[K, V]) Set(key K, value V) {
	c.setFresh(key, value, nil, c.now())
}

// setFresh stores value for key with the freshness fr (nil: the
// configured one) from now, superseding a running load of key.
func (c *Cache[K, V]) setFresh(key K, value V, fr *freshness, now time.Time) {
	fresh, swr, sie, ok := c.deadlines(now, fr, false)
	if !ok {
		return
	}
	n := newNode[K, V](c.seed, key)
	n.val = value
	n.setTimes(now, fresh, swr, sie)
	if c.cost != nil {
		n.cost = c.cost(key, value)
	}
	s := c.shard(key)
	s.mu.Lock()
	s.supersede(key)
	s.store(n)
	ev := s.takeEvicted()
	s.mu.Unlock()
	c.evicted(ev)
}

// Delete removes key. A load of key already running when Delete is called
// still returns its result to the Gets waiting for it, but does not store
// it, and later Gets start a new load: a value read before the Delete is
// never served after it.
func (c *Cache[K, V]) Delete(key K) {
	s := c.shard(key)
	s.mu.Lock()
	s.supersede(key)
	s.reason = EvictedDeleted
	s.remove(key)
	ev := s.takeEvicted()
	s.mu.Unlock()
	c.evicted(ev)
}

// Purge removes every entry, as Delete does for each key.
func (c *Cache[K, V]) Purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for key := range s.flights {
			s.supersede(key)
		}
		s.reason = EvictedDeleted
		s.purge()
		ev := s.takeEvicted()
		s.mu.Unlock()
		c.evicted(ev)
	}
}

// deleteMatching removes the entries whose keys match, as Delete does.
// It visits every key, so it is for rare invalidations.
func (c *Cache[K, V]) deleteMatching(match func(K) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for key := range s.flights {
			if match(key) {
				s.supersede(key)
			}
		}
		s.reason = EvictedDeleted
		for _, key := range s.keys() {
			if match(key) {
				s.remove(key)
			}
		}
		ev := s.takeEvicted()
		s.mu.Unlock()
		c.evicted(ev)
	}
}

// Len returns the number of stored entries, expired and negative ones
// included.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.len
		s.mu.Unlock()
	}
	return n
}

// Close cancels the contexts of running loads (background refreshes
// included), so their waiters return ErrClosed (or the loader's own error,
// if it returns first), and waits for the loaders to return: a loader that
// ignores its context's cancellation delays Close. It also releases the
// cache's hold on the process's coarse clock, whose goroutine stops with
// the last Cache's Close. Afterwards Get still serves stored values but
// returns ErrClosed instead of loading. Close is idempotent and always
// returns nil.
func (c *Cache[K, V]) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		if c.status != nil {
			c.status.handle.Remove()
		}
		if c.clk != nil {
			c.clk.release()
		}
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			s.closed = true
			fs := make([]*flight[K, V], 0, len(s.flights)+len(s.orphans))
			for _, f := range s.flights {
				fs = append(fs, f)
			}
			for f := range s.orphans {
				fs = append(fs, f)
			}
			s.mu.Unlock()
			for _, f := range fs { // expire takes s.mu
				c.expire(f, ErrClosed, context.Canceled)
			}
		}
	}
	c.loads.Wait()
	c.watch.timer.Stop()
	return nil
}

func (c *Cache[K, V]) negative(err error) bool {
	if c.cfg.negMatch != nil {
		return c.cfg.negMatch(err)
	}
	return errors.Is(err, ErrNotFound)
}

func (c *Cache[K, V]) evicted(ev []eviction[K, V]) {
	for _, e := range ev {
		c.onEvict(e.key, e.val, e.reason)
	}
}
