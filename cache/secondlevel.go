package cache

import (
	"context"
	"errors"
	"time"
)

// SecondLevel is a store shared by several instances of a service, behind
// each instance's in-process Cache: on a miss the cache asks it before
// calling the loader, and stores what the loader returned in it
// afterwards, so one instance's load serves the others. Package
// cache/rediscache implements it on Redis, with a distributed
// lock-on-miss inside Get.
//
// The second level is an optimisation, never a dependency: when Get or
// Set fails, the cache logs it at Debug and goes on as if there were no
// second level. Stale values are not written to it, nor are negative
// results unless it asks for them (below);
// Set, Delete and Purge change the in-process cache only (a second level
// with invalidation of its own, like rediscache's, offers it as a method
// of its own, and can learn its cache through Attach: see
// WithSecondLevel).
//
// For every Get that returns no value (found false, or an error), the
// cache later calls exactly one of Set, SetNegative or Release for that
// key, in the same goroutine, when the load that followed the Get has
// ended: a second level that locked the key in Get unlocks it there.
//
// Negative results (WithNegativeCache) are shared only with a second
// level that also has a method SetNegative(ctx context.Context, key K,
// err error, ttl time.Duration) error: the cache calls it instead of
// Release after a load whose negative result it stored, and such a
// second level's Get may then return found true with that error (err
// non-nil), which the cache serves as a negative result for ttl when its
// own WithNegativeCache matches the error, and otherwise treats as a
// failed Get.
type SecondLevel[K comparable, V any] interface {
	// Get returns key's value and how long it stays fresh, or found
	// false. It runs in the load's goroutine, with the load's context.
	// The cache keeps a value it gets for exactly ttl, without jitter,
	// so every instance's copy expires when the one stored did, and its
	// stale windows (WithStaleWhileRevalidate, WithStaleIfError) follow.
	Get(ctx context.Context, key K) (value V, ttl time.Duration, found bool, err error)
	// Set stores value for key: fresh for ttl (the deadline the cache
	// gave its own copy, jitter included), and kept for keep >= ttl, the
	// time until the last of its stale deadlines, after which no
	// instance may serve it. It runs in the load's goroutine after the
	// Gets waiting for the load have their value.
	Set(ctx context.Context, key K, value V, ttl, keep time.Duration) error
	// Release is called instead of Set when the load that followed a
	// Get without a value stores nothing in the second level: it failed,
	// its result was negative, superseded or not to be stored, it timed
	// out, or Close canceled it.
	Release(ctx context.Context, key K)
}

// WithSecondLevel puts l behind the cache (see SecondLevel). K and V must
// be the cache's key and value types, or New fails. If l also has a
// method Attach(*Cache[K, V]) error, New calls it with the new cache as
// its last step, so that l can drop the cache's entries when another
// instance invalidates them; an error from Attach fails New.
func WithSecondLevel[K comparable, V any](l SecondLevel[K, V]) Option {
	return cacheOnly("WithSecondLevel", func(c *config) {
		if l == nil {
			c.fail(errors.New("cache: WithSecondLevel: nil store"))
			return
		}
		c.second = l
	})
}

// loadValue loads f's key from the second level if there is one and it
// has the key, and otherwise from the loader.
func (c *Cache[K, V]) loadValue(f *flight[K, V]) (V, error) {
	if c.second != nil {
		if v, err, ok := c.loadSecond(f); ok {
			return v, err
		}
	}
	return f.load(&f.loadCtx, f.key)
}

//go:noinline
func (c *Cache[K, V]) loadSecond(f *flight[K, V]) (V, error, bool) {
	v, ttl, found, err := c.second.Get(&f.loadCtx, f.key)
	switch {
	case found && err != nil && c.cfg.negTTL > 0 && c.negative(err): // a shared negative result
		f.fromSecond = true
		f.fr.ttl, f.fr.ttlSet, f.fr.exact = ttl, true, true
		var zero V
		return zero, err, true
	case err != nil:
		c.logDebug(f, "cache: second level get failed", err)
	case found:
		f.fromSecond = true
		f.fr.ttl, f.fr.ttlSet, f.fr.exact = ttl, true, true
		return v, nil, true
	}
	var zero V
	return zero, nil, false
}

// writeBack stores a loaded value in the second level with the deadlines
// of the entry the cache stored, fresh and last (the later of its stale
// deadlines), or releases the key there when the entry is gone by now.
func (c *Cache[K, V]) writeBack(f *flight[K, V], v V, fresh, last time.Time) {
	// The load's context ended when its waiters got the value; the write
	// keeps its values and what was left of its timeout.
	ctx := context.WithoutCancel(&f.loadCtx)
	if dl, ok := f.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	now := c.now()
	ttl, keep := fresh.Sub(now), last.Sub(now)
	if ttl <= 0 {
		c.second.Release(ctx, f.key)
		return
	}
	if err := c.second.Set(ctx, f.key, v, ttl, keep); err != nil {
		c.logDebug(ctx, "cache: second level set failed", err)
	}
}
