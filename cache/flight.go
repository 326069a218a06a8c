package cache

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// A flight is one running load of one key, shared by every Get that
// misses the key while it runs. It is coalescing written for this cache
// rather than x/sync/singleflight, because the load must outlive the
// caller that started it (its context is detached from every caller), a
// waiter must be able to leave on its own context, a timed-out load must
// release its waiters even if the loader never returns, and the result
// must be stored before the key is released.
type flight[K comparable, V any] struct {
	loadCtx // the loader's context
	key     K
	load    func(context.Context, K) (V, error)
	shard   *shard[K, V]
	start   time.Time
	cancel  context.CancelFunc
	stop    func() bool // unregisters the timeout callback
	done    chan struct{}
	claimed atomic.Bool // set by whoever completes the flight: the loader, the timeout or Close

	// Written before done is closed, read after.
	val V
	err error

	superseded bool // guarded by shard.mu: Set, Delete or Purge ran meanwhile; see shard.supersede
	fromSecond bool // the value came from the second level
}

// loadCtx is the loader's context: cancellation and deadline from a
// context detached from the caller (context.WithoutCancel, then the load
// timeout), values from the caller's context, plus the freshness the
// loader may set with SetTTL. Every other Value lookup goes to the
// embedded context, so context.Cause and derived contexts see the load's
// own cancellation, never the caller's.
type loadCtx struct {
	context.Context
	fr freshness
}

type freshnessKey struct{}

func (c *loadCtx) Value(key any) any {
	if key == (freshnessKey{}) {
		return &c.fr
	}
	return c.Context.Value(key)
}

// SetTTL sets how long the value a loader is loading stays fresh,
// instead of WithTTL (jitter still applies). A ttl <= 0 means the value is
// returned to the callers waiting for this load but not stored. The
// loader must call it with the context it was given (or one derived from
// it) before it returns; anywhere else SetTTL does nothing.
func SetTTL(ctx context.Context, ttl time.Duration) {
	if fr, ok := ctx.Value(freshnessKey{}).(*freshness); ok {
		fr.ttl, fr.ttlSet = ttl, true
	}
}

// freshnessOf returns the freshness a load's context carries, for the
// ResponseCache's loader.
func freshnessOf(ctx context.Context) *freshness {
	fr, _ := ctx.Value(freshnessKey{}).(*freshness)
	return fr
}

// join makes the caller wait for key's running load, or starts one. When
// force is false and a fresh entry was stored since the caller looked, it
// returns that entry instead. The caller counts itself with s.loaded once
// it knows it was not served a stale value.
func (c *Cache[K, V]) join(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error), now time.Time, force bool) (f *flight[K, V], leader bool, hit *entry[V], err error) {
	s.mu.Lock()
	if f = s.flights[key]; f != nil {
		s.mu.Unlock()
		return f, false, nil, nil
	}
	if !force {
		if e, ok := s.lru.Peek(key); ok && now.Before(e.fresh) {
			s.mu.Unlock()
			return nil, false, e, nil
		}
	}
	if s.closed {
		s.mu.Unlock()
		return nil, false, nil, ErrClosed
	}
	f = c.start(ctx, s, key, load, now)
	s.mu.Unlock()
	return f, true, nil, nil
}

// start starts a load of key in its own goroutine. s.mu must be held and
// s not closed.
func (c *Cache[K, V]) start(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error), now time.Time) *flight[K, V] {
	f := &flight[K, V]{key: key, load: load, shard: s, start: now, done: make(chan struct{})}
	detached := context.WithoutCancel(ctx)
	if c.cfg.loadTimeout > 0 {
		f.Context, f.cancel = context.WithTimeout(detached, c.cfg.loadTimeout)
	} else {
		f.Context, f.cancel = context.WithCancel(detached)
	}
	f.stop = context.AfterFunc(f.Context, func() { c.expire(f) })
	s.flights[key] = f
	s.stats.loads.Add(1)
	c.loads.Add(1)
	go c.run(f)
	return f
}

// wait waits for f to complete or ctx to end.
func (c *Cache[K, V]) wait(ctx context.Context, f *flight[K, V]) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		c.requests.Add(ctx, resultError)
		return ctx.Err()
	}
}

// run calls the loader and completes f with what it returns. A panic (or
// runtime.Goexit) in the loader completes f with a *PanicError.
func (c *Cache[K, V]) run(f *flight[K, V]) {
	defer c.loads.Done()
	var (
		v        V
		err      error
		returned bool
	)
	defer func() {
		if !returned {
			pe := &PanicError{Value: recover(), Stack: debug.Stack()}
			if pe.Value != http.ErrAbortHandler { // a handler's deliberate abort, as net/http treats it
				c.cfg.log().LogAttrs(f, slog.LevelError, "cache: loader panicked",
					slog.String("cache", c.cfg.name), slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
			}
			var zero V
			v, err = zero, pe
		}
		c.finish(f, v, err)
	}()
	v, err = c.loadValue(f)
	returned = true
}

// finish completes f with the loader's result and stores it, unless the
// timeout or Close completed f first.
func (c *Cache[K, V]) finish(f *flight[K, V], v V, err error) {
	end := c.now()
	f.stop()
	defer f.cancel() // after the write-back, which uses the load's context
	c.loadTime.Record(f, end.Sub(f.start))
	if !f.claimed.CompareAndSwap(false, true) {
		return
	}
	s := f.shard
	key, ownShard := f.key, true
	if k, ok := f.fr.key.(K); ok {
		key, ownShard = k, c.shard(k) == s
	}
	negative := err != nil && c.negative(err)
	if err != nil && !negative {
		s.stats.loadErrors.Add(1)
		c.cfg.log().LogAttrs(f, slog.LevelDebug, "cache: load failed",
			slog.String("cache", c.cfg.name), slog.String("error", err.Error()))
	}
	var e *entry[V]
	if err == nil || negative && c.cfg.negTTL > 0 {
		if fresh, swr, sie, ok := c.deadlines(end, &f.fr, negative); ok {
			e = &entry[V]{val: v, stored: end, fresh: fresh, swr: swr, sie: sie, delta: float64(end.Sub(f.start))}
			if negative {
				var zero V
				e.val, e.err = zero, err
			} else if c.cost != nil {
				e.cost = c.cost(key, v)
			}
		}
	}
	f.val, f.err = v, err
	s.mu.Lock()
	// A key of another shard is not stored: this shard's lock could not
	// keep it from a Delete or Purge that superseded f meanwhile.
	stored := e != nil && !f.superseded && !s.closed && ownShard
	if stored {
		s.store(key, e)
	}
	s.forget(f)
	ev := s.takeEvicted()
	s.mu.Unlock()
	c.evicted(ev) // before the callers return, so they see the callbacks done
	close(f.done)
	if c.second != nil && stored && err == nil && !f.fromSecond { // a superseded value is not shared either
		c.writeBack(f, v)
	}
}

// expire completes f when its context ends first: the load timed out, or
// Close canceled it. The loader's eventual result is dropped.
func (c *Cache[K, V]) expire(f *flight[K, V]) {
	if !f.claimed.CompareAndSwap(false, true) {
		return
	}
	f.err = c.timeout
	if f.Err() == context.Canceled {
		f.err = ErrClosed
	}
	s := f.shard
	s.stats.loadErrors.Add(1)
	s.mu.Lock()
	s.forget(f)
	s.mu.Unlock()
	close(f.done)
}
