package cache

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
)

// Stats are a cache's counters since New. Every Get counts once in
// exactly one of Hits, NegativeHits, StaleServed, Misses and Coalesced (a
// Get that returns ErrClosed counts in none).
type Stats struct {
	Hits         uint64 // Gets served a fresh value
	NegativeHits uint64 // Gets served a cached negative result
	StaleServed  uint64 // Gets served an expired value (stale-while-revalidate, stale-if-error)
	Misses       uint64 // Gets that started a load
	Coalesced    uint64 // Gets that waited for a load another Get started
	Loads        uint64 // loads started, background refreshes included
	LoadErrors   uint64 // loads that failed: an error that is not negative, a panic, a timeout
	Evictions    uint64 // entries removed to make room (entry count or cost)
}

// counters are one shard's Stats, kept per shard so that parallel hits on
// different shards do not contend on one cache line. Hits, the one count
// every Get of a hot shard makes, is split further across stripes, each
// on its own cache line.
type counters struct {
	hitStripes                                                       [hitStripes]paddedCounter
	negative, stale, misses, coalesced, loads, loadErrors, evictions atomic.Uint64
}

const hitStripes = 8

type paddedCounter struct {
	n atomic.Uint64
	_ [120]byte // a stripe and its neighbour's prefetched line hold one counter
}

// hit counts a hit on the stripe given, which comes from the key's hash,
// so that parallel hits on different keys mostly count on different
// stripes.
// It reports whether this hit is one of every catchUpHits on its stripe.
func (s *counters) hit(stripe uint8) bool {
	return s.hitStripes[stripe%hitStripes].n.Add(1)%catchUpHits == 0
}

// catchUpHits is how often, in hits per stripe, a hit makes the coarse
// clock catch up with the exact one (coarseClock.catchUp).
const catchUpHits = 1024

func (s *counters) addTo(st *Stats) {
	for i := range s.hitStripes {
		st.Hits += s.hitStripes[i].n.Load()
	}
	st.NegativeHits += s.negative.Load()
	st.StaleServed += s.stale.Load()
	st.Misses += s.misses.Load()
	st.Coalesced += s.coalesced.Load()
	st.Loads += s.loads.Load()
	st.LoadErrors += s.loadErrors.Load()
	st.Evictions += s.evictions.Load()
}

// Stats returns the cache's counters. They are read one by one while
// Gets go on, so they are not a consistent snapshot.
func (c *Cache[K, V]) Stats() Stats {
	var st Stats
	for i := range c.shards {
		c.shards[i].stats.addTo(&st)
	}
	return st
}

// Results of the paved.cache.requests metric, one per Get: the Stats
// field it counts in, except that a Get returning an error other than a
// negative result counts as error instead (a load failure with nothing
// stale to serve, a timeout, a panic, the caller's context ending, or
// ErrClosed).
const (
	resultHit       = "hit"
	resultMiss      = "miss"
	resultStale     = "stale"
	resultCoalesced = "coalesced"
	resultNegative  = "negative"
	resultError     = "error"
)

// loaded counts a Get that started a load (leader) or waited for one,
// unless it returned ErrClosed.
func (s *counters) loaded(leader bool, err error) {
	switch {
	case err == ErrClosed:
	case leader:
		s.misses.Add(1)
	default:
		s.coalesced.Add(1)
	}
}

func loadResult(leader bool) string {
	if leader {
		return resultMiss
	}
	return resultCoalesced
}

// Attributes of the cache.stale_served span event: why a stale value was
// served.
var (
	staleRevalidate = attribute.String("paved.cache.stale.reason", "revalidate")
	staleError      = attribute.String("paved.cache.stale.reason", "error")
)
