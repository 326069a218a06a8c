package cache

import (
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestShardMatchesAnLRU runs random stores, hits, removals and purges on
// a shard and on a plain LRU list, and compares what they hold in order
// for shards under 8 entries, where recency is exact. For every size, the
// table finds exactly the listed entries after every step (tombstones and
// rehashes included), and the bound holds.
func TestShardMatchesAnLRU(t *testing.T) {
	for _, max := range []int{1, 3, 7, 8, 64, 1000} {
		t.Run(strconv.Itoa(max), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(max), 1))
			var s shard[int, int]
			s.init(max)
			s.seed = maphash.MakeSeed()
			var ref []int // most recent first
			keys := 3 * max
			for step := range 20000 {
				k := rng.IntN(keys)
				switch op := rng.IntN(20); {
				case op < 8:
					n := newNode[int, int](s.seed, k)
					n.val = step
					s.mu.Lock()
					s.store(n)
					s.takeEvicted()
					s.mu.Unlock()
					ref = slices.Insert(slices.DeleteFunc(ref, func(x int) bool { return x == k }), 0, k)
					if len(ref) > max {
						ref = ref[:max]
					}
				case op < 17:
					s.mu.Lock()
					held := slices.Contains(s.keys(), k)
					s.mu.Unlock()
					if e := s.get(k); held != (e != nil) {
						t.Fatalf("step %d: get(%d) = %v, the list holds it: %v", step, k, e, held)
					}
					if i := slices.Index(ref, k); i >= 0 {
						ref = slices.Insert(slices.Delete(ref, i, i+1), 0, k)
					}
				case op < 19:
					s.mu.Lock()
					s.remove(k)
					s.mu.Unlock()
					ref = slices.DeleteFunc(ref, func(x int) bool { return x == k })
				default:
					s.mu.Lock()
					s.purge()
					s.mu.Unlock()
					ref = ref[:0]
				}
				s.mu.Lock()
				got := s.keys() // least recent first
				live := 0
				if tb := s.table.Load(); tb != nil {
					for i := range tb.slots {
						if n := tb.slots[i].Load(); n != nil && n != &s.root {
							live++
							if s.find(n.key, n.hash) != n || n.prev == nil {
								t.Fatalf("step %d: the table holds %d, which is not listed or not found", step, n.key)
							}
						}
					}
				}
				s.mu.Unlock()
				slices.Reverse(got)
				if len(got) != s.len || live != s.len || s.len > max {
					t.Fatalf("step %d: %d listed, %d in the table, len %d, max %d", step, len(got), live, s.len, max)
				}
				if max < 8 && !slices.Equal(got, ref) {
					t.Fatalf("step %d: shard holds %v, LRU %v", step, got, ref)
				}
			}
		})
	}
}
