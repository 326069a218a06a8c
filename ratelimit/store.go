package ratelimit

import (
	"crypto/sha256"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// store holds one rate.Limiter per key, at most maxKeys of them. It is a
// sharded LRU: a key hashes to one shard, each shard is a golang-lru
// simplelru.LRU under its own read-write mutex, so callers with different
// keys rarely wait for each other.
//
// Looking up a key the shard holds takes only the read lock, which is let
// go before the caller uses the limiter: a decision pays for one
// uncontended read lock besides what rate.Limiter itself does, and callers
// of one shard wait for each other only while a key is added or moved. A
// key in use is moved to the front of its shard's list only when a
// quarter of the shard's capacity of new keys has come in since it was
// last moved there: moving on every hit would take the write lock, and
// write to list entries other cores share, on every decision. Recency is
// therefore approximate, which is harmless: it only orders the search for
// a key to forget.
//
// A key is forgotten only when its bucket would be full by now, when a
// new key needs its place: forgetting it then changes no decision, since
// it would come back with the full bucket it has. A new key for a full
// shard looks at up to evictProbes of the least recently used keys; the
// first with a full bucket makes way, and each still refilling gets a
// second chance at the front of the list, so the next search looks at
// others. When none has refilled, the new key gets the store's overflow
// bucket, shared by every key without a bucket of its own. A decision
// that raced with its key's eviction lands on the old limiter, as if it
// had come just before the eviction.
type store struct {
	seed      maphash.Seed
	mask      uint64
	limit     rate.Limit
	burst     int
	overflow  *rate.Limiter
	overflows atomic.Uint64 // decisions on overflow
	shards    []shard
}

type shard struct {
	mu    sync.RWMutex
	lru   *simplelru.LRU[string, entry]
	size  int     // keys the shard holds at most
	adds  uint64  // keys added so far: the shard's clock of recency
	stale uint64  // adds after which a key in use is moved to the front again
	_     [8]byte // a shard fills a 64-byte cache line: read locks on one leave its neighbours alone
}

// entry is a key's limiter and the shard's adds when the key last moved to
// the front of the LRU list. It is stored by value and replaced as a whole
// under the write lock.
type entry struct {
	lim   *rate.Limiter
	moved uint64
}

// evictProbes is how many of a full shard's least recently used keys a
// new key looks at for one whose bucket has refilled. It bounds the work
// done under the shard's write lock when the shard is full of limited
// keys.
const evictProbes = 8

// maxKeyLen is the longest key the store holds as it is. A longer one is
// held as its SHA-256 digest: keys come from requests (an API key header
// can be up to a megabyte long), and WithMaxKeys would not bound memory
// if a client could make each key as long as it liked.
const maxKeyLen = 64

// digestKey returns the key a long key is held under: a NUL and its
// SHA-256 digest. No key of the package's KeyFuncs starts with a NUL.
func digestKey(key string) string {
	var b [1 + sha256.Size]byte
	sum := sha256.Sum256([]byte(key))
	copy(b[1:], sum[:])
	return string(b[:])
}

// keysPerShard is the fewest keys a shard holds: fewer shards for a small
// store keep its LRU order close to a global one.
const (
	keysPerShard = 1024
	maxShards    = 64
)

func newStore(maxKeys int, q Quota) *store {
	n := 1
	if c := maxKeys / keysPerShard; c > 1 {
		n = 1 << (bits.Len(uint(c)) - 1) // the largest power of two <= c
	}
	n = min(n, maxShards)
	s := &store{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		limit:    q.Limit,
		burst:    q.Burst,
		overflow: rate.NewLimiter(q.Limit, q.Burst),
		shards:   make([]shard, n),
	}
	for i := range s.shards {
		size := maxKeys / n
		if i < maxKeys%n {
			size++ // the shards' sizes add up to maxKeys exactly
		}
		// One more than size: the shard makes room itself, and the LRU
		// must never evict on its own.
		s.shards[i].lru, _ = simplelru.NewLRU[string, entry](size+1, nil) // never fails
		s.shards[i].size = size
		s.shards[i].stale = uint64(size / 4)
	}
	return s
}

// get returns key's limiter at time now, adding a full one if key has
// none, or, counting it, the overflow limiter when there is no room for
// it. No lock is held when it returns. A nil store, the store of an
// infinite limit, returns nil, which decide never uses.
func (s *store) get(key string, now time.Time) *rate.Limiter {
	if s == nil {
		return nil
	}
	if len(key) > maxKeyLen {
		key = digestKey(key)
	}
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.RLock()
	e, ok := sh.lru.Peek(key)
	fresh := ok && sh.adds-e.moved <= sh.stale
	sh.mu.RUnlock()
	if fresh {
		return e.lim
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok = sh.lru.Peek(key) // another caller may have added or moved it meanwhile
	switch {
	case !ok:
		if sh.lru.Len() >= sh.size && !sh.makeRoom(now, float64(s.burst)) {
			s.overflows.Add(1)
			return s.overflow
		}
		sh.adds++
		e = entry{lim: rate.NewLimiter(s.limit, s.burst), moved: sh.adds}
		// The store outlives the request the key came from: a copy keeps
		// the request's header strings from being held in memory.
		sh.lru.Add(strings.Clone(key), e)
	case sh.adds-e.moved > sh.stale:
		e.moved = sh.adds
		sh.lru.Add(key, e) // moves it to the front
	}
	return e.lim
}

// makeRoom forgets the first of the shard's least recently used keys whose
// bucket holds burst tokens at now, giving those still refilling a second
// chance at the front of the list. It reports whether it made room. The
// caller holds the write lock.
func (sh *shard) makeRoom(now time.Time, burst float64) bool {
	for range min(evictProbes, sh.lru.Len()) {
		key, e, _ := sh.lru.GetOldest()
		if e.lim.TokensAt(now) >= burst {
			sh.lru.RemoveOldest()
			return true
		}
		e.moved = sh.adds
		sh.lru.Add(key, e) // to the front
	}
	return false
}

func (s *store) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += sh.lru.Len()
		sh.mu.RUnlock()
	}
	return n
}
