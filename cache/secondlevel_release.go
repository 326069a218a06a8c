package cache

import (
	"context"
	"time"
)

// releaseSecond tells the second level that the load of f, which followed
// a Get that found no value there, stores nothing in it.
func (c *Cache[K, V]) releaseSecond(f *flight[K, V]) {
	if c.second == nil || f.fromSecond {
		return
	}
	c.second.Release(context.WithoutCancel(&f.loadCtx), f.key)
}

// attachSecond hands the new cache to a second level that wants it (see
// WithSecondLevel).
func (c *Cache[K, V]) attachSecond() error {
	if a, ok := c.second.(interface{ Attach(*Cache[K, V]) error }); ok {
		return a.Attach(c)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// negativeSetter is a second level that shares negative results (see
// SecondLevel).
type negativeSetter[K comparable] interface {
	SetNegative(ctx context.Context, key K, err error, ttl time.Duration) error
}

// writeBackNegative stores a negative result in the second level, if it
// takes them, for what is left of the entry's ttl, and otherwise
// releases the key there.
func (c *Cache[K, V]) writeBackNegative(f *flight[K, V], err error, fresh time.Time) {
	ns, ok := c.second.(negativeSetter[K])
	ttl := fresh.Sub(c.now())
	if !ok || ttl <= 0 {
		c.releaseSecond(f)
		return
	}
	ctx := context.WithoutCancel(&f.loadCtx)
	if dl, ok := f.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if err := ns.SetNegative(ctx, f.key, err, ttl); err != nil {
		c.logDebug(ctx, "cache: second level set failed", err)
	}
}
