package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// A shard is one lock, one LRU list and the loads running for its keys.
// Its entries are found through an open-addressing table that Gets read
// without the lock: the table and the entries in it are replaced, never
// changed in place, while the lock is held. One lock covers the list, the
// table, the in-flight map and the cost, and removals are reported with
// their reason after it is released.
//
// Recency is kept in the list, with one approximation that keeps hits off
// the lock: a hit moves its entry to the front only if more than a
// quarter of the shard's capacity was stored or moved there since it was.
// Eviction is therefore least recently used at the grain of a quarter of
// the shard; a shard of fewer than 8 entries is exact.
type shard[K comparable, V any] struct {
	mu      sync.Mutex
	seed    maphash.Seed
	root    node[K, V] // the list's sentinel: root.next is the most recent entry; also the table's tombstone
	len     int
	max     int    // entries allowed
	window  uint64 // moves to the front a hit need not make up for
	flights map[K]*flight[K, V]
	orphans map[*flight[K, V]]struct{} // superseded loads still running, for Close
	closed  bool
	cost    int64
	maxCost int64 // 0: no cost bound

	track   bool        // record removals for the WithOnEvict callback
	reason  EvictReason // of the removals the current operation causes
	evicted []eviction[K, V]

	// What a hit reads sits between paddings, away from what the lock
	// and the counters write.
	_     [128]byte
	table atomic.Pointer[table[K, V]] // written under mu
	seq   atomic.Uint64               // entries stored or moved to the front so far; written under mu
	_     [128]byte
	stats counters
}

// A node is an entry in a shard's list and table.
type node[K comparable, V any] struct {
	entry[V]
	key        K
	hash       uint64
	seq        atomic.Uint64 // shard.seq when stored or last moved to the front
	prev, next *node[K, V]   // guarded by shard.mu; nil once removed
}

// A table maps hashes to nodes by linear probing. Slots hold nil (never
// used), the shard's root (a removed entry) or a node.
type table[K comparable, V any] struct {
	slots []atomic.Pointer[node[K, V]]
	mask  uint64
	used  int // slots not nil; guarded by shard.mu
}

type eviction[K comparable, V any] struct {
	key    K
	val    V
	reason EvictReason
}

func (s *shard[K, V]) init(max int) {
	s.max = max
	s.window = uint64(max / 4)
	if max < 8 {
		s.window = 0
	}
	s.root.next, s.root.prev = &s.root, &s.root
	s.flights = make(map[K]*flight[K, V])
}

// hash hashes key for the table. Shards are picked by its high bits, slots
// by its low ones.
func hash[K comparable](seed maphash.Seed, key K) uint64 {
	if s, ok := any(key).(string); ok { // the most common key, hashed without reflection
		return maphash.String(seed, s)
	}
	return maphash.Comparable(seed, key)
}

// find returns key's node, or nil. It takes no lock.
func (s *shard[K, V]) find(key K, h uint64) *node[K, V] {
	t := s.table.Load()
	if t == nil {
		return nil
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		n := t.slots[i].Load()
		if n == nil {
			return nil
		}
		if n != &s.root && n.hash == h && n.key == key {
			return n
		}
	}
}

// get returns key's entry, marking it recently used, or nil.
func (s *shard[K, V]) get(key K) *entry[V] {
	n := s.find(key, hash(s.seed, key))
	if n == nil {
		return nil
	}
	s.touch(n)
	return &n.entry
}

// touch marks n recently used: it moves n to the front of the list unless
// n is among the window most recent entries already.
func (s *shard[K, V]) touch(n *node[K, V]) {
	if s.seq.Load()-n.seq.Load() <= s.window {
		return
	}
	s.mu.Lock()
	if n.prev != nil { // still stored
		s.unlink(n)
		s.pushFront(n)
	}
	s.mu.Unlock()
}

// peek returns key's entry without marking it used.
func (s *shard[K, V]) peek(key K) (*entry[V], bool) {
	n := s.find(key, hash(s.seed, key))
	if n == nil {
		return nil, false
	}
	return &n.entry, true
}

func newNode[K comparable, V any](seed maphash.Seed, key K) *node[K, V] {
	h := hash(seed, key)
	n := &node[K, V]{key: key, hash: h}
	n.stripe = uint8(h >> 32)
	return n
}

// store adds or replaces n's key, evicting least recently used entries
// while the shard is over its count or cost. s.mu must be held.
func (s *shard[K, V]) store(n *node[K, V]) {
	old := s.find(n.key, n.hash)
	if old != nil && s.track && old.err == nil {
		s.evicted = append(s.evicted, eviction[K, V]{n.key, old.val, EvictedReplaced})
	}
	if s.maxCost > 0 && n.cost > s.maxCost {
		if old != nil {
			s.reason = 0 // reported as replaced above
			s.removeNode(old)
		}
		return
	}
	if old != nil {
		s.cost -= old.cost
		s.unlink(old)
		s.len--
	}
	s.put(n)
	s.pushFront(n)
	s.len++
	s.cost += n.cost
	s.reason = EvictedCapacity
	for s.len > s.max || s.maxCost > 0 && s.cost > s.maxCost {
		s.removeNode(s.root.prev)
	}
}

func (s *shard[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = &s.root, s.root.next
	n.next.prev = n
	s.root.next = n
	n.seq.Store(s.seq.Add(1))
}

func (s *shard[K, V]) unlink(n *node[K, V]) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
}

// put sets n's slot in the table, replacing the node of the same key.
// s.mu must be held.
func (s *shard[K, V]) put(n *node[K, V]) {
	t := s.table.Load()
	if t == nil || 4*(t.used+1) > 3*len(t.slots) {
		t = s.rehash(s.len + 1)
	}
	free := -1
	for i := n.hash & t.mask; ; i = (i + 1) & t.mask {
		m := t.slots[i].Load()
		if m == nil {
			if free < 0 {
				free = int(i)
				t.used++
			}
			break
		}
		if m == &s.root {
			if free < 0 {
				free = int(i)
			}
			continue
		}
		if m.hash == n.hash && m.key == n.key {
			t.slots[i].Store(n)
			return
		}
	}
	t.slots[free].Store(n)
}

// rehash replaces the table by one with room for live entries and no
// removed ones. Gets still probing the old table find what it held.
func (s *shard[K, V]) rehash(live int) *table[K, V] {
	size := 8
	for size < 2*live { // at most half full after the rehash, so that a full shard, storing and evicting, rehashes rarely
		size *= 2
	}
	t := &table[K, V]{slots: make([]atomic.Pointer[node[K, V]], size), mask: uint64(size - 1)}
	for n := s.root.next; n != &s.root; n = n.next {
		i := n.hash & t.mask
		for t.slots[i].Load() != nil {
			i = (i + 1) & t.mask
		}
		t.slots[i].Store(n)
		t.used++
	}
	s.table.Store(t)
	return t
}

// remove removes key's entry, if any. s.mu must be held.
func (s *shard[K, V]) remove(key K) {
	if n := s.find(key, hash(s.seed, key)); n != nil {
		s.removeNode(n)
	}
}

// removeNode removes n from the list and the table and reports it with
// s.reason. s.mu must be held.
func (s *shard[K, V]) removeNode(n *node[K, V]) {
	t := s.table.Load()
	for i := n.hash & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == n {
			t.slots[i].Store(&s.root)
			break
		}
	}
	s.unlink(n)
	s.len--
	s.removed(n.key, &n.entry)
}

// purge removes every entry, reporting each with s.reason. s.mu must be
// held.
func (s *shard[K, V]) purge() {
	for n := s.root.prev; n != &s.root; {
		prev := n.prev
		n.prev, n.next = nil, nil
		s.removed(n.key, &n.entry)
		n = prev
	}
	s.root.next, s.root.prev = &s.root, &s.root
	s.len = 0
	s.table.Store(nil)
}

// keys returns the stored keys, least recently used first. s.mu must be
// held.
func (s *shard[K, V]) keys() []K {
	ks := make([]K, 0, s.len)
	for n := s.root.prev; n != &s.root; n = n.prev {
		ks = append(ks, n.key)
	}
	return ks
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
	if cur, ok := s.peek(f.key); ok {
		cur.refreshing.Store(false) // a refresh that stored nothing may be tried again
	}
}

// removed accounts for a removed entry; it runs under s.mu.
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
