package cache

import (
	"context"
	"math"
	"time"
)

// refresh starts a background load of key to replace e, which is stale
// or due for early refresh, unless one is running already. The caller
// does not wait for it. At most one refresh per entry is started: the
// first Get to see e in need claims it, and a refresh that stores nothing
// (it failed, or was superseded) releases the claim for a later Get.
func (c *Cache[K, V]) refresh(ctx context.Context, s *shard[K, V], key K, e *entry[V], load func(context.Context, K) (V, error)) {
	if e.refreshing.CompareAndSwap(false, true) {
		c.startRefresh(ctx, s, key, load, c.now()) // the hit read the coarse clock; a load is timed exactly
	}
}

// startRefresh starts a background load of key unless a load of it is
// running already. The load is a flight like any other, so a Get that
// misses the key meanwhile waits for it instead of starting a second
// load, and Close cancels it.
func (c *Cache[K, V]) startRefresh(ctx context.Context, s *shard[K, V], key K, load func(context.Context, K) (V, error), now time.Time) {
	s.mu.Lock()
	if s.flights[key] == nil && !s.closed {
		c.start(ctx, s, key, load, now)
	}
	s.mu.Unlock()
}

// earlyDue reports whether a Get at now of the fresh entry e should start
// an early refresh.
func (c *Cache[K, V]) earlyDue(e *entry[V], now time.Time) bool {
	return xfetch(c.cfg.beta, e.delta, e.fresh.Sub(now), c.random)
}

// maxXFetchGap bounds -ln(1-u) for u a float64 in [0, 1): 1-u is at least
// 2^-53, and 53*ln(2) < 37. An entry further than 37*beta*delta from
// expiry can never be picked for early refresh, so most hits skip the
// random draw and the logarithm.
const maxXFetchGap = 37

// xfetch reports whether a Get should start an early refresh of a fresh
// entry that expires in remaining and took delta nanoseconds to load:
// XFetch (Vattani, Chierichetti and Lowenstein, VLDB 2015), true with
// probability exp(-remaining/(beta*delta)).
func xfetch(beta, delta float64, remaining time.Duration, random func() float64) bool {
	if delta <= 0 || beta <= 0 {
		return false
	}
	scale := beta * delta
	if float64(remaining) > scale*maxXFetchGap {
		return false
	}
	return scale*-math.Log(1-random()) >= float64(remaining)
}
