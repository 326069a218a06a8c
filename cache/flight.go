package cache

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
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
//
// A flight is also the loader's context (loadCtx), and one channel serves
// both: it is closed when the flight completes, which is when the loader's
// context ends too. A miss then allocates the flight, its channel and its
// goroutine's closure, rather than a detached context, a timed context
// with its timer, a cancellation hook, a channel and closures of their
// own; the load timeout is the cache's watchdog's, which has one timer
// for all of them.
type flight[K comparable, V any] struct {
	loadCtx // the loader's context
	key     K
	load    func(context.Context, K) (V, error)
	c       *Cache[K, V]
	shard   *shard[K, V]
	start   time.Time
	watched watched     // its place in the cache's watchdog, with a load timeout
	claimed atomic.Bool // set by whoever completes the flight: the loader, the timeout or Close

	// Written before done is closed, read after.
	val V
	err error

	superseded bool // guarded by shard.mu: Set, Delete or Purge ran meanwhile; see shard.supersede
	fromSecond bool // the value came from the second level
}

// loadCtx is the loader's context: values from the caller's context,
// deadline from the load timeout, cancellation when the load completes
// (the loader returned, timed out, or Close canceled it), never the
// caller's; plus the freshness the loader may set with SetTTL.
type loadCtx struct {
	parent   context.Context // for Value only
	deadline time.Time       // zero: none
	done     chan struct{}   // closed when the flight completes
	ctxErr   error           // written before done is closed

	mu         sync.Mutex
	afterFuncs []*afterFunc // registered by contexts derived from this one

	fr freshness
}

type afterFunc struct{ fn func() }

type freshnessKey struct{}

// cancelCtxKey is the key by which package context finds the cancelCtx a
// context descends from (for context.Cause, and to link derived contexts
// to it), learned from the one lookup context.Cause makes. A loadCtx
// answers nil to it, so that neither reaches the caller's cancelCtx
// through the values it passes on.
var cancelCtxKey = func() any {
	p := &keyProbe{Context: context.Background()}
	_ = context.Cause(p)
	return p.key
}()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

func (c *loadCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *loadCtx) Done() <-chan struct{} { return c.done }

func (c *loadCtx) Err() error {
	select {
	case <-c.done:
		return c.ctxErr
	default:
		return nil
	}
}

func (c *loadCtx) Value(key any) any {
	switch key {
	case freshnessKey{}:
		return &c.fr
	case cancelCtxKey:
		return nil
	}
	return c.parent.Value(key)
}

// AfterFunc arranges for fn to run in its own goroutine once the load
// completes, as context.AfterFunc does. Package context calls it for a
// context derived from this one, so deriving costs no goroutine.
func (c *loadCtx) AfterFunc(fn func()) (stop func() bool) {
	a := &afterFunc{fn: fn}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		go fn()
		return func() bool { return false }
	default:
	}
	c.afterFuncs = append(c.afterFuncs, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, b := range c.afterFuncs {
			if b == a {
				c.afterFuncs = append(c.afterFuncs[:i], c.afterFuncs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// end ends the context with err. Only the one who claimed the flight
// calls it, once.
func (c *loadCtx) end(err error) {
	c.ctxErr = err
	c.mu.Lock()
	close(c.done)
	fns := c.afterFuncs
	c.afterFuncs = nil
	c.mu.Unlock()
	for _, a := range fns {
		go a.fn()
	}
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
		if e, ok := s.peek(key); ok && now.Before(e.fresh) {
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
	f := &flight[K, V]{key: key, load: load, c: c, shard: s, start: now}
	f.parent, f.done = ctx, make(chan struct{})
	if d := c.cfg.loadTimeout; d > 0 {
		f.deadline = now.Add(d)
		f.watched.deadline, f.watched.load = f.deadline, f
		c.watch.watch(&f.watched)
	}
	s.flights[key] = f
	s.stats.loads.Add(1)
	c.loads.Add(1)
	go f.run()
	return f
}

func (f *flight[K, V]) run() { f.c.run(f) }

// timedOut completes f with the timeout error; the cache's watchdog calls
// it when f's deadline passes.
func (f *flight[K, V]) timedOut() { f.c.expire(f, f.c.timeout, context.DeadlineExceeded) }

// wait waits for f to complete or ctx to end.
func (c *Cache[K, V]) wait(ctx context.Context, f *flight[K, V]) error {
	done := ctx.Done()
	if done == nil { // a context that never ends: a plain receive is cheaper than a select
		<-f.done
		return nil
	}
	select {
	case <-f.done:
		return nil
	case <-done:
		c.requests.Add(ctx, resultError)
		return ctx.Err()
	}
}

// run calls the loader and completes f with what it returns. A panic (or
// runtime.Goexit) in the loader completes f with a *PanicError. The load's
// goroutine starts with a small stack, so rare paths (a panic, logging)
// are kept out of the frames on the way to finish: growing the stack on
// every miss cost more than the rest of the goroutine.
func (c *Cache[K, V]) run(f *flight[K, V]) {
	defer c.loads.Done()
	var (
		v        V
		err      error
		returned bool
	)
	defer func() {
		if !returned {
			var zero V
			v, err = zero, c.panicked(f, recover())
		}
		c.finish(f, v, err)
	}()
	v, err = c.loadValue(f)
	returned = true
}

//go:noinline
func (c *core) panicked(ctx context.Context, r any) error {
	pe := &PanicError{Value: r, Stack: debug.Stack()}
	if pe.Value != http.ErrAbortHandler { // a handler's deliberate abort, as net/http treats it
		c.cfg.log().LogAttrs(ctx, slog.LevelError, "cache: loader panicked",
			slog.String("cache", c.cfg.name), slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
	}
	return pe
}

// logDebug logs a failure the cache recovers from.
//
//go:noinline
func (c *core) logDebug(ctx context.Context, msg string, err error) {
	c.cfg.log().LogAttrs(ctx, slog.LevelDebug, msg, slog.String("cache", c.cfg.name), slog.String("error", err.Error()))
}

// finish completes f with the loader's result and stores it, unless the
// timeout or Close completed f first.
func (c *Cache[K, V]) finish(f *flight[K, V], v V, err error) {
	end := c.now()
	c.watch.unwatch(&f.watched)
	c.loadTime.Record(f, end.Sub(f.start))
	if !f.claimed.CompareAndSwap(false, true) {
		c.releaseSecond(f)
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
		c.logDebug(f, "cache: load failed", err)
	}
	var n *node[K, V]
	if err == nil || negative && c.cfg.negTTL > 0 {
		if fresh, swr, sie, ok := c.deadlines(end, &f.fr, negative); ok {
			n = newNode[K, V](c.seed, key)
			e := &n.entry
			e.val, e.delta = v, float64(end.Sub(f.start))
			e.setTimes(end, fresh, swr, sie)
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
	stored := n != nil && !f.superseded && !s.closed && ownShard
	if stored {
		s.store(n)
	}
	s.forget(f)
	ev := s.takeEvicted()
	s.mu.Unlock()
	c.evicted(ev) // before the callers return, so they see the callbacks done
	f.end(context.Canceled)
	switch {
	case c.second == nil || f.fromSecond:
	case stored && err == nil: // a superseded value is not shared either
		c.writeBack(f, v, n.fresh, later(n.swr, n.sie))
	case stored:
		c.writeBackNegative(f, err, n.fresh)
	default:
		c.releaseSecond(f)
	}
}

// expire completes f with err, and ends its context with ctxErr, when the
// load timed out or Close canceled it. The loader's eventual result is
// dropped.
func (c *Cache[K, V]) expire(f *flight[K, V], err, ctxErr error) {
	if !f.claimed.CompareAndSwap(false, true) {
		return
	}
	f.err = err
	c.watch.unwatch(&f.watched)
	s := f.shard
	s.stats.loadErrors.Add(1)
	s.mu.Lock()
	s.forget(f)
	s.mu.Unlock()
	f.end(ctxErr)
}
