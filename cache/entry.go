package cache

import (
	"sync/atomic"
	"time"
)

// An entry is one stored value (or negative result) with its own
// deadlines. Entries are immutable once stored, except for refreshing, so
// a Get reads them without holding the shard lock. An expired entry stays
// in the LRU until it is evicted or replaced, because it may still be
// served stale.
type entry[V any] struct {
	val    V
	err    error     // a cached negative result; val is zero
	stored time.Time // when the load finished or Set was called
	fresh  time.Time // fresh before this
	swr    time.Time // may be served while revalidating before this
	sie    time.Time // may be served when a load fails before this
	delta  float64   // nanoseconds the load took, for early refresh; 0 for Set
	cost   int64

	// fresh and swr as nanoseconds since the coarse clock's base, which
	// a hit compares with the clock's reading without converting it.
	freshNs, swrNs int64
	stripe         uint8 // the hit counter it counts on, from its key's hash

	// refreshing is set by the Get that starts a background refresh, so
	// a key has at most one; a failed refresh clears it.
	refreshing atomic.Bool
}

// setTimes sets when e was stored and its deadlines.
func (e *entry[V]) setTimes(stored, fresh, swr, sie time.Time) {
	e.stored, e.fresh, e.swr, e.sie = stored, fresh, swr, sie
	e.freshNs, e.swrNs = clock.nanos(fresh), clock.nanos(swr)
}

// freshness is what a loader (or a ResponseCache) decided about the entry
// it is loading, through its context. Unset fields take the cache's
// configuration.
type freshness struct {
	ttl, swr, sie          time.Duration
	ttlSet, swrSet, sieSet bool
	noStore                bool // returned to the callers waiting for it, not stored
	exact                  bool // ttl came from a second level: no jitter
	// key, when set, is the key (of the cache's key type) to store the
	// value under instead of the load's own: a ResponseCache's response
	// whose Vary values differ from those its request was keyed with.
	key any
}

// deadlines computes an entry's deadlines from now. Jitter shortens the
// TTL by up to c.jitter of it; the stale windows follow the jittered
// expiry.
func (c *core) deadlines(now time.Time, fr *freshness, negative bool) (fresh, swr, sie time.Time, ok bool) {
	ttl, sw, se := c.cfg.ttl, c.cfg.swr, c.cfg.sie
	if negative {
		ttl, sw, se = c.cfg.negTTL, 0, 0
	}
	if fr != nil {
		if fr.noStore {
			return
		}
		if fr.ttlSet {
			ttl = fr.ttl
		}
		if fr.swrSet {
			sw = fr.swr
		}
		if fr.sieSet {
			se = fr.sie
		}
	}
	if ttl <= 0 {
		return
	}
	if c.cfg.jitter > 0 && (fr == nil || !fr.exact) {
		ttl -= time.Duration(c.cfg.jitter * c.random() * float64(ttl))
	}
	fresh = now.Add(ttl)
	return fresh, fresh.Add(sw), fresh.Add(se), true
}
