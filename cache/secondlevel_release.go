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
