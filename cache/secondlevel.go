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
// cache/rediscache (planned) implements it on Redis, with a distributed
// lock-on-miss inside Get.
//
// The second level is an optimisation, never a dependency: when Get or
// Set fails, the cache logs it at Debug and goes on as if there were no
// second level. Negative results and stale values are not written to it;
// Set, Delete and Purge change the in-process cache only.
type SecondLevel[K comparable, V any] interface {
	// Get returns key's value and how long it stays fresh, or found
	// false. It runs in the load's goroutine, with the load's context.
	Get(ctx context.Context, key K) (value V, ttl time.Duration, found bool, err error)
	// Set stores value for key for ttl. It runs in the load's goroutine
	// after the Gets waiting for the load have their value.
	Set(ctx context.Context, key K, value V, ttl time.Duration) error
}

// WithSecondLevel puts l behind the cache (see SecondLevel). K and V must
// be the cache's key and value types, or New fails.
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
		if v, ok := c.loadSecond(f); ok {
			return v, nil
		}
	}
	return f.load(&f.loadCtx, f.key)
}

//go:noinline
func (c *Cache[K, V]) loadSecond(f *flight[K, V]) (V, bool) {
	v, ttl, found, err := c.second.Get(&f.loadCtx, f.key)
	switch {
	case err != nil:
		c.logDebug(f, "cache: second level get failed", err)
	case found:
		f.fromSecond = true
		SetTTL(&f.loadCtx, ttl)
		return v, true
	}
	var zero V
	return zero, false
}

// writeBack stores a loaded value in the second level, with the TTL it
// got before jitter.
func (c *Cache[K, V]) writeBack(f *flight[K, V], v V) {
	ttl := c.cfg.ttl
	if f.fr.ttlSet {
		ttl = f.fr.ttl
	}
	// The load's context ended when its waiters got the value; the write
	// keeps its values and what was left of its timeout.
	ctx := context.WithoutCancel(&f.loadCtx)
	if dl, ok := f.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if err := c.second.Set(ctx, f.key, v, ttl); err != nil {
		c.logDebug(ctx, "cache: second level set failed", err)
	}
}
