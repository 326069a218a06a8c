package cache

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// A shard is one lock, one LRU and the loads running for its keys. The
// LRU is golang-lru's simplelru under the shard's own mutex rather than
// its locked Cache: one lock then covers the lookup, the in-flight map and
// the cost, and removals can be reported with their reason after the lock
// is released.
type shard[K comparable, V any] struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[K, *entry[V]]
	flights map[K]*flight[K, V]
	orphans map[*flight[K, V]]struct{} // superseded loads still running, for Close
	closed  bool
	cost    int64
	maxCost int64 // 0: no cost bound

	track   bool        // record removals for the WithOnEvict callback
	reason  EvictReason // of the removals the current operation causes
	evicted []eviction[K, V]

	stats counters
	_     [64]byte // keeps neighbouring shards' locks off one cache line
}

type eviction[K comparable, V any] struct {
	key    K
	val    V
	reason EvictReason
}

// get returns key's entry, marking it recently used, or nil.
func (s *shard[K, V]) get(key K) *entry[V] {
	s.mu.Lock()
	e, _ := s.lru.Get(key)
	s.mu.Unlock()
	return e
}

// store adds or replaces key's entry, evicting least recently used ones
// while the shard is over its count or cost. s.mu must be held.
func (s *shard[K, V]) store(key K, e *entry[V]) {
	old, replacing := s.lru.Peek(key)
	if replacing && s.track && old.err == nil {
		s.evicted = append(s.evicted, eviction[K, V]{key, old.val, EvictedReplaced})
	}
	if s.maxCost > 0 && e.cost > s.maxCost {
		if replacing {
			s.reason = 0 // reported as replaced above
			s.lru.Remove(key)
		}
		return
	}
	if replacing {
		s.cost -= old.cost
	}
	s.reason = EvictedCapacity
	s.lru.Add(key, e)
	s.cost += e.cost
	for s.maxCost > 0 && s.cost > s.maxCost {
		s.lru.RemoveOldest()
	}
}

// supersede detaches key's running load, if any, because Set, Delete or
// Purge changed key meanwhile: the load still completes for the Gets
// waiting for it but stores nothing, and later Gets start a load of their
// own rather than get a value read before the change. s.mu must be held.
func (s *shard[K, V]) supersede(key K) {
	f := s.flights[key]
	if f == nil {
		return
	}
	f.superseded = true
	delete(s.flights, key)
	if s.orphans == nil {
		s.orphans = make(map[*flight[K, V]]struct{})
	}
	s.orphans[f] = struct{}{}
}

// forget removes the completed load f. s.mu must be held.
func (s *shard[K, V]) forget(f *flight[K, V]) {
	if f.superseded {
		delete(s.orphans, f)
	} else if s.flights[f.key] == f {
		delete(s.flights, f.key)
	}
	if cur, ok := s.lru.Peek(f.key); ok {
		cur.refreshing.Store(false) // a refresh that stored nothing may be tried again
	}
}

// removed is the LRU's eviction callback; it runs under s.mu.
func (s *shard[K, V]) removed(key K, e *entry[V]) {
	s.cost -= e.cost
	switch s.reason {
	case 0:
		return
	case EvictedCapacity:
		s.stats.evictions.Add(1)
	}
	if s.track && e.err == nil {
		s.evicted = append(s.evicted, eviction[K, V]{key, e.val, s.reason})
	}
}

// takeEvicted returns the removals to report once s.mu is released.
func (s *shard[K, V]) takeEvicted() []eviction[K, V] {
	ev := s.evicted
	s.evicted = nil
	return ev
}
