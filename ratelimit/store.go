package ratelimit

import (
	"crypto/sha256"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// store holds one rate.Limiter per key, at most capacity of them. It is a
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
// therefore approximate: a key used steadily can still be evicted when
// most of its shard is used too and new keys keep arriving, and it then
// comes back with a full bucket, the same as an idle one.
//
// Eviction is least recently used per shard, which approximates a global
// LRU: the keys that go first are the idle ones, whose buckets have
// refilled anyway, and an evicted key comes back with a new, full
// rate.Limiter. A decision that raced with its key's eviction lands on the
// old limiter, as if it had come just before the eviction.
type store struct {
	seed   maphash.Seed
	mask   uint64
	limit  rate.Limit
	burst  int
	shards []shard
}

type shard struct {
	mu    sync.RWMutex
	lru   *simplelru.LRU[string, entry]
	adds  uint64   // keys added so far: the shard's clock of recency
	stale uint64   // adds after which a key in use is moved to the front again
	_     [16]byte // a shard fills a 64-byte cache line: read locks on one leave its neighbours alone
}

// entry is a key's limiter and the shard's adds when the key last moved to
// the front of the LRU list. It is stored by value and replaced as a whole
// under the write lock.
type entry struct {
	lim   *rate.Limiter
	moved uint64
}

// maxKeyLen is the longest key the store holds as it is. A longer one is
// held as its SHA-256 digest: keys come from requests (an API key header
// can be up to a megabyte long), and the capacity would not bound memory
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

func newStore(capacity int, q Quota) *store {
	n := 1
	if c := capacity / keysPerShard; c > 1 {
		n = 1 << (bits.Len(uint(c)) - 1) // the largest power of two <= c
	}
	n = min(n, maxShards)
	s := &store{seed: maphash.MakeSeed(), mask: uint64(n - 1), limit: q.Limit, burst: q.Burst, shards: make([]shard, n)}
	for i := range s.shards {
		size := capacity / n
		if i < capacity%n {
			size++ // the shards' sizes add up to capacity exactly
		}
		s.shards[i].lru, _ = simplelru.NewLRU[string, entry](size, nil) // size >= 1: never fails
		s.shards[i].stale = uint64(size / 4)
	}
	return s
}

// get returns key's limiter, adding a full one if key has none. No lock is
// held when it returns. A nil store, the store of an infinite limit,
// returns nil, which decide never uses.
func (s *store) get(key string) *rate.Limiter {
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
