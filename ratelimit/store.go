package ratelimit

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// store holds one bucket per key, at most capacity of them. It is a
// sharded LRU: a key hashes to one shard, each shard is a golang-lru
// simplelru.LRU under its own mutex, so callers with different keys
// rarely wait for each other, and that mutex also guards the shard's
// buckets, so a decision takes one lock.
//
// Eviction is least recently used per shard, which approximates a global
// LRU: the keys that go first are the idle ones, whose buckets have
// refilled anyway, and an evicted key comes back with a new, full bucket.
// A key in use is moved to the front of its shard's list only when a
// quarter of the shard's capacity of new keys has come in since it was
// last moved there: moving on every hit would write to list entries that
// other cores share, and that, more than the lock, limits a busy store.
// So a key is safe from eviction while it is used at least once every
// three quarters of the capacity's worth of new keys.
type store struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
}

type shard struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, *bucket]
	adds  uint64   // keys added so far: the shard's clock of recency
	stale uint64   // adds after which a key in use is moved to the front again
	_     [32]byte // keeps neighbouring shards' locks off one cache line
}

// bucket is one key's token bucket. It keeps the state and arithmetic of
// a rate.Limiter (tokens as of last; see tokensAt), without a mutex of its
// own: its shard's lock guards it.
type bucket struct {
	tokens float64
	last   time.Time
	moved  uint64 // the shard's adds when the key last moved to the front
}

// keysPerShard is the fewest keys a shard holds: fewer shards for a small
// store keep its LRU order close to a global one.
const (
	keysPerShard = 1024
	maxShards    = 64
)

func newStore(capacity int) *store {
	n := 1
	if c := capacity / keysPerShard; c > 1 {
		n = 1 << (bits.Len(uint(c)) - 1) // the largest power of two <= c
	}
	n = min(n, maxShards)
	s := &store{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]shard, n)}
	for i := range s.shards {
		size := capacity / n
		if i < capacity%n {
			size++ // the shards' sizes add up to capacity exactly
		}
		s.shards[i].lru, _ = simplelru.NewLRU[string, *bucket](size, nil) // size >= 1: never fails
		s.shards[i].stale = uint64(size / 4)
	}
	return s
}

// lock locks key's shard and returns it with key's bucket, adding a full
// one if key has none. The caller unlocks the shard.
func (s *store) lock(key string, q Quota) (*shard, *bucket) {
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	b, ok := sh.lru.Peek(key)
	switch {
	case !ok:
		sh.adds++
		b = &bucket{tokens: float64(q.Burst), moved: sh.adds}
		// The store outlives the request the key came from: a copy keeps
		// the request's header strings from being held in memory.
		sh.lru.Add(strings.Clone(key), b)
	case sh.adds-b.moved > sh.stale:
		sh.lru.Get(key) // moves it to the front
		b.moved = sh.adds
	}
	return sh, b
}

// peek locks key's shard and returns it with key's bucket, or nil if key
// has none; it does not count as a use. The caller unlocks the shard.
func (s *store) peek(key string) (*shard, *bucket) {
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	b, _ := sh.lru.Peek(key)
	return sh, b
}

func (s *store) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.lru.Len()
		sh.mu.Unlock()
	}
	return n
}

// tokensAt returns the tokens the bucket holds at t, as rate.Limiter's
// advance computes them: a time before last counts as last, and the
// bucket holds at most the burst.
func (b *bucket) tokensAt(q Quota, t time.Time) float64 {
	last := b.last
	if t.Before(last) {
		last = t
	}
	return min(b.tokens+t.Sub(last).Seconds()*float64(q.Limit), float64(q.Burst))
}

// take takes n tokens at t if the bucket holds them, as rate.Limiter's
// AllowN does.
func (b *bucket) take(q Quota, t time.Time, n int) Decision {
	tokens := b.tokensAt(q, t)
	if n <= q.Burst && tokens >= float64(n) {
		b.tokens, b.last = tokens-float64(n), t
		return q.allowed(b.tokens)
	}
	return q.limited(tokens, n)
}

// reserve takes n tokens at t, letting the bucket go into debt as
// rate.Limiter's ReserveN does, and returns how long until they are due.
// When that is longer than budget it takes nothing and reports false.
func (b *bucket) reserve(q Quota, t time.Time, n int, budget time.Duration) (time.Duration, bool) {
	tokens := b.tokensAt(q, t)
	var delay time.Duration
	if tokens < float64(n) {
		delay = q.retryAfter(tokens, float64(n))
	}
	if delay > budget {
		return delay, false
	}
	b.tokens, b.last = tokens-float64(n), t
	return delay, true
}
