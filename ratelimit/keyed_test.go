package ratelimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

func TestKeyedKeysAreIndependent(t *testing.T) {
	k, err := ratelimit.NewKeyed(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		k.AllowAt("a", t0)
	}
	if d := k.AllowAt("a", t0); d.Allowed {
		t.Fatalf("a after its burst: %+v, want limited", d)
	}
	if d := k.AllowAt("b", t0); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("b: %+v, want allowed with 1 left", d)
	}
	if k.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", k.Len())
	}
}

// allowAt is k.AllowAt that also reports whether the decision was made on
// the overflow bucket, for callers that are alone on k.
func allowAt(k *ratelimit.Keyed, key string, at time.Time, n int) (ratelimit.Decision, bool) {
	before := k.Overflows()
	d := k.AllowNAt(key, at, n)
	return d, k.Overflows() != before
}

func TestKeyedEviction(t *testing.T) {
	tests := []struct {
		name    string
		touch   []string      // keys allowed in order after "a" is drained at t0
		at      time.Duration // when they are touched and "a" asked again
		wantA   ratelimit.Decision
		wantLen int
	}{
		{
			name:    "a drained key is kept, a full one makes way",
			touch:   []string{"b", "c"}, // b is full (it took nothing), so it goes
			wantA:   limited(0, time.Second, time.Second),
			wantLen: 2,
		},
		{
			name:    "a key that has refilled makes way",
			touch:   []string{"b", "c"},
			at:      time.Second, // a and b are full: a, the least recently used, goes
			wantA:   allowed(0, time.Second),
			wantLen: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ratelimit.NewKeyed(1, 1, ratelimit.WithMaxKeys(2))
			if err != nil {
				t.Fatal(err)
			}
			k.AllowAt("a", t0)
			for _, key := range tc.touch {
				k.AllowNAt(key, t0.Add(tc.at), 0)
			}
			if got := k.AllowAt("a", t0.Add(tc.at)); got != tc.wantA {
				t.Errorf("a = %+v, want %+v", got, tc.wantA)
			}
			if k.Len() != tc.wantLen {
				t.Errorf("Len() = %d, want %d", k.Len(), tc.wantLen)
			}
		})
	}
}

// TestKeyedEvictionDoesNotReset is the attack on a bounded store: a client
// drains its bucket (one request an hour), then sends requests under 50
// other keys (rotating its address) to push its key out of a store of 10,
// hoping to come back with a full bucket. Its bucket is kept, the new keys
// that find no room share the overflow bucket, and nothing is reset.
func TestKeyedEvictionDoesNotReset(t *testing.T) {
	for _, maxKeys := range []int{1, 10, 5000} { // one shard, and several
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			exact := maxKeys < 1024 // one shard: it fills exactly when maxKeys keys came
			k, err := ratelimit.NewKeyed(rate.Every(time.Hour), 1, ratelimit.WithMaxKeys(maxKeys))
			if err != nil {
				t.Fatal(err)
			}
			if d := k.AllowAt("attacker", t0); !d.Allowed {
				t.Fatalf("first request: %+v", d)
			}
			var own, overflow int
			for i := range maxKeys + 50 {
				d, inOverflow := allowAt(k, "rotated-"+strconv.Itoa(i), t0.Add(time.Duration(i)*ms), 1)
				if inOverflow {
					overflow++
					continue
				}
				if !d.Allowed {
					t.Fatalf("key %d has a bucket of its own but was limited: %+v", i, d)
				}
				own++
			}
			if d, inOverflow := allowAt(k, "attacker", t0.Add(time.Minute), 1); d.Allowed || inOverflow || d.RetryAfter < 58*time.Minute {
				t.Fatalf("attacker after %d other keys: %+v, want its own drained bucket, retry after 59m", maxKeys+50, d)
			}
			if exact && (own != maxKeys-1 || overflow != 51) || own+overflow != maxKeys+50 || k.Len() > maxKeys || k.Len() != own+1 || k.Overflows() != uint64(overflow) {
				t.Fatalf("%d keys with a bucket of their own, %d in overflow, Len %d; want %d, 51, %d", own, overflow, k.Len(), maxKeys-1, maxKeys)
			}
			// An hour on, every bucket has refilled: new keys get their own
			// again, and the attacker's full bucket is the first to make way.
			if d, inOverflow := allowAt(k, "late", t0.Add(2*time.Hour), 1); !d.Allowed || inOverflow {
				t.Fatalf("new key once every bucket refilled: %+v, want a full bucket of its own", d)
			}
		})
	}
}

// TestKeyedOverflowIsShared checks that keys without room share one
// bucket: the first takes its token, the next is limited.
func TestKeyedOverflowIsShared(t *testing.T) {
	k, _ := ratelimit.NewKeyed(rate.Every(time.Hour), 1, ratelimit.WithMaxKeys(1))
	k.AllowAt("a", t0)
	want := []ratelimit.Decision{
		{Allowed: true, ResetAfter: time.Hour},
		{RetryAfter: time.Hour, ResetAfter: time.Hour},
	}
	for i, key := range []string{"b", "c"} {
		if d, inOverflow := allowAt(k, key, t0, 1); d != want[i] || !inOverflow {
			t.Fatalf("%s: %+v (overflow %v), want %+v in the overflow bucket", key, d, inOverflow, want[i])
		}
	}
}

// TestKeyedKeepsKeysInUse churns through five times the store's size in
// new keys, each taking nothing: a key used all along keeps its (empty)
// bucket, an idle one that has refilled is forgotten and comes back with
// the full bucket it had.
func TestKeyedKeepsKeysInUse(t *testing.T) {
	const maxKeys = 100
	k, _ := ratelimit.NewKeyed(1, 1, ratelimit.WithMaxKeys(maxKeys))
	k.AllowAt("hot", t0)
	k.AllowAt("idle", t0)
	at := t0.Add(time.Second) // idle has refilled
	for round := range 5 * maxKeys / 10 {
		for i := range 10 {
			if _, inOverflow := allowAt(k, "new-"+strconv.Itoa(round*10+i), at, 0); inOverflow {
				t.Fatalf("round %d: new key in overflow with full buckets to forget", round)
			}
		}
		if d := k.AllowAt("hot", at); d.Allowed && round > 0 {
			t.Fatalf("round %d: the key in use was reset: %+v", round, d)
		}
	}
	if d := k.AllowAt("idle", at); !d.Allowed {
		t.Fatalf("idle key after %d new keys: %+v, want its full bucket", 5*maxKeys, d)
	}
	if k.Len() != maxKeys {
		t.Fatalf("Len() = %d, want %d", k.Len(), maxKeys)
	}
}

func TestKeyedOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []ratelimit.Option
		wantErr bool
	}{
		{"defaults", nil, false},
		{"max keys", []ratelimit.Option{ratelimit.WithMaxKeys(1)}, false},
		{"nil option", []ratelimit.Option{nil}, true},
		{"zero max keys", []ratelimit.Option{ratelimit.WithMaxKeys(0)}, true},
		{"middleware option", []ratelimit.Option{ratelimit.WithRoute("GET /", ratelimit.Policy{})}, true},
		{"enforcer option", []ratelimit.Option{ratelimit.WithDryRun(true)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ratelimit.NewKeyed(1, 1, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewKeyed: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestKeyedInfiniteRateHoldsNoKeys(t *testing.T) {
	k, _ := ratelimit.NewKeyed(rate.Inf, 5)
	for i := range 100 {
		if d := k.Allow(strconv.Itoa(i)); !d.Allowed {
			t.Fatalf("limited at infinite rate: %+v", d)
		}
	}
	if err := k.Wait(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if k.Len() != 0 {
		t.Fatalf("Len() = %d, want 0", k.Len())
	}
}

// TestKeyedNeverOverAdmits races many callers for one key at one instant:
// exactly the burst gets through, however the calls interleave.
func TestKeyedNeverOverAdmits(t *testing.T) {
	const burst, callers, calls = 50, 8, 100
	k, _ := ratelimit.NewKeyed(1, burst)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range calls {
				if k.AllowAt("hot", t0).Allowed {
					ok.Add(1)
				}
				k.AllowAt("cold-"+strconv.Itoa(int(ok.Load())), t0)
			}
		})
	}
	wg.Wait()
	if ok.Load() != burst {
		t.Fatalf("%d calls allowed, want exactly the burst, %d", ok.Load(), burst)
	}
}

// TestKeyedChurn has callers add, use and evict keys of a small store at
// once, so lookups run beside additions and evictions (under -race, this
// checks the store's locking): every new key gets a full bucket of its own
// or the overflow bucket, and the store never holds more keys than its
// bound. Each caller's clock runs on its own, so a key one caller drained
// may have refilled, and made way, at another's time.
func TestKeyedChurn(t *testing.T) {
	const maxKeys, callers, keys = 64, 4, 2000
	k, _ := ratelimit.NewKeyed(1000, 1, ratelimit.WithMaxKeys(maxKeys))
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			prefix := strconv.Itoa(g) + "-"
			for i := range keys {
				at := t0.Add(time.Duration(i) * ms) // a bucket refills in 1ms
				if d := k.AllowAt(prefix+strconv.Itoa(i), at); !d.Allowed && k.Overflows() == 0 {
					t.Errorf("new key %s%d: %+v, want a full bucket", prefix, i, d)
					return
				}
				k.AllowAt(prefix+strconv.Itoa(i/2), at) // a hit, or a key back after it made way
				if n := k.Len(); n > maxKeys {
					t.Errorf("Len() = %d, over the bound %d", n, maxKeys)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := k.Len(); n != maxKeys {
		t.Fatalf("Len() = %d after %d keys, want the bound %d", n, callers*keys, maxKeys)
	}
}

func TestKeyedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, _ := ratelimit.NewKeyed(2, 1)
		start := time.Now()
		for range 3 {
			if err := k.Wait(t.Context(), "a"); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.Wait(t.Context(), "b"); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("three waits at 2/s took %v, want 1s (b never waits for a)", got)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*ms)
		defer cancel()
		err := k.Wait(ctx, "a")
		if le, ok := errors.AsType[*ratelimit.LimitError](err); !ok || le.RetryAfter != 500*ms {
			t.Fatalf("Wait past the deadline = %v, want *LimitError retry after 500ms", err)
		}
	})
}

// heap returns the live heap, in bytes, after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestKeyedLongKeysAreBounded feeds keys of 16 KiB, which a client that
// picks its own API key can send, to a keyed limiter: a key held costs
// about what a short one does, so WithMaxKeys bounds memory whatever the
// keys' length, and long keys still get buckets of their own.
func TestKeyedLongKeysAreBounded(t *testing.T) {
	const maxKeys = 1000
	k, _ := ratelimit.NewKeyed(1000, 1, ratelimit.WithMaxKeys(maxKeys))
	long := strings.Repeat("k", 16<<10)
	before := heap()
	for i := range 2 * maxKeys {
		k.AllowAt(long+strconv.Itoa(i), t0.Add(time.Duration(i)*ms)) // each refills in 1ms
	}
	after := heap()
	runtime.KeepAlive(k)
	if perKey := (int64(after) - int64(before)) / maxKeys; perKey > 1024 {
		t.Errorf("%d bytes held per key of 16 KiB, want at most 1 KiB", perKey)
	}
	if n := k.Len(); n != maxKeys {
		t.Fatalf("Len() = %d, want %d", n, maxKeys)
	}
	at := t0.Add(time.Hour)
	if d, inOverflow := allowAt(k, long+"a", at, 1); !d.Allowed || inOverflow {
		t.Fatalf("new long key: %+v, want a full bucket of its own", d)
	}
	if d := k.AllowAt(long+"a", at); d.Allowed {
		t.Fatalf("long key again: %+v, want its empty bucket", d)
	}
	if d, inOverflow := allowAt(k, long+"b", at, 1); !d.Allowed || inOverflow {
		t.Fatalf("another long key: %+v, want a bucket of its own", d)
	}
}

// TestKeyedMemoryIsBounded feeds a million distinct keys to a keyed
// limiter with the default capacity and checks, with runtime.MemStats, that
// the live heap stops growing once the store is full.
func TestKeyedMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million keys take a few seconds under -race")
	}
	const keys = 1_000_000
	k, _ := ratelimit.NewKeyed(1e6, 1) // refills in a microsecond, so keys make way
	before := heap()
	var full uint64
	buf := make([]byte, 0, 16)
	for i := range keys {
		buf = strconv.AppendInt(append(buf[:0], 'k'), int64(i), 10)
		k.AllowAt(string(buf), t0.Add(time.Duration(i)*time.Microsecond))
		if i == 2*ratelimit.DefaultMaxKeys {
			full = heap()
		}
	}
	after := heap()
	runtime.KeepAlive(k)
	if n := k.Len(); n != ratelimit.DefaultMaxKeys {
		t.Fatalf("Len() = %d after %d keys, want the bound %d", n, keys, ratelimit.DefaultMaxKeys)
	}
	perKey := float64(after-before) / ratelimit.DefaultMaxKeys
	t.Logf("heap: %.1f MiB for %d keys (%.0f B/key); %.1f MiB at %d keys",
		float64(after-before)/(1<<20), ratelimit.DefaultMaxKeys, perKey, float64(full-before)/(1<<20), 2*ratelimit.DefaultMaxKeys)
	if perKey > 320 {
		t.Errorf("%.0f bytes per key held, want at most 320", perKey)
	}
	if after > full+full/20 {
		t.Errorf("heap grew from %d to %d bytes between %d and %d keys; it should stay flat once full",
			full, after, 2*ratelimit.DefaultMaxKeys, keys)
	}
}

// TestKeyedMatchesRateLimiter replays one pseudo-random sequence of calls
// on a plain rate.Limiter, on a Limiter and on one key of a Keyed, with
// calls for other keys in between: the key keeps one rate.Limiter of its
// own throughout, so every decision agrees with the plain rate.Limiter's,
// and the Keyed's decisions equal the Limiter's in every field.
func TestKeyedMatchesRateLimiter(t *testing.T) {
	for _, q := range []ratelimit.Quota{{Limit: 10, Burst: 5}, {Limit: 0.7, Burst: 3}, {Limit: 1234.5, Burst: 100}} {
		rng := rand.New(rand.NewPCG(1, uint64(q.Burst)))
		raw := rate.NewLimiter(q.Limit, q.Burst)
		l, _ := ratelimit.New(q.Limit, q.Burst)
		k, _ := ratelimit.NewKeyed(q.Limit, q.Burst, ratelimit.WithMaxKeys(10))
		at := t0
		step := int64(2 * float64(time.Second) / float64(q.Limit)) // two tokens' worth
		for i := range 5000 {
			at = at.Add(time.Duration(rng.Int64N(step)))
			if rng.IntN(20) == 0 {
				at = at.Add(-time.Duration(rng.Int64N(int64(time.Second)))) // clocks step back
			}
			n := rng.IntN(q.Burst + 2)
			want := raw.AllowN(at, n)
			got := k.AllowNAt("key", at, n)
			if got.Allowed != want {
				t.Fatalf("%+v call %d (n=%d): Keyed allowed=%v, rate.Limiter allowed=%v", q, i, n, got.Allowed, want)
			}
			if rem := int(max(raw.TokensAt(at), 0)); got.Remaining != rem {
				t.Fatalf("%+v call %d: Remaining %d, rate.Limiter holds %d", q, i, got.Remaining, rem)
			}
			if d := l.AllowNAt(at, n); got != d {
				t.Fatalf("%+v call %d (n=%d): Keyed decided %+v, Limiter %+v", q, i, n, got, d)
			}
			k.AllowNAt("other-"+strconv.Itoa(rng.IntN(5)), at, 1)
		}
	}
}

// TestKeyedWaitGivesTokensBack checks that a wait that fails or gives up
// returns its tokens, so the key's next token is due when it was before
// the wait, and that a new key does not evict a key with a wait pending:
// it shares the overflow bucket instead.
func TestKeyedWaitGivesTokensBack(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // the wait's deadline; without one it is canceled at 300ms
		evict   bool          // a new key arrives at 100ms, with no room for it
		wantErr error
		want    ratelimit.Decision // of Allow when the wait has ended
	}{
		{name: "would overrun the deadline", timeout: 500 * ms, wantErr: ratelimit.ErrLimited, want: limited(0, time.Second, time.Second)},
		{name: "canceled while waiting", wantErr: context.Canceled, want: limited(0, 700*ms, 700*ms)},
		{name: "new key while waiting", evict: true, wantErr: context.Canceled, want: limited(0, 700*ms, 700*ms)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k, _ := ratelimit.NewKeyed(1, 1, ratelimit.WithMaxKeys(1))
				k.Allow("a")
				ctx, cancel := context.WithCancel(t.Context())
				if tc.timeout > 0 {
					ctx, cancel = context.WithTimeout(t.Context(), tc.timeout)
				}
				defer cancel()
				errc := make(chan error, 1)
				go func() { errc <- k.Wait(ctx, "a") }()
				synctest.Wait()
				var err error
				select {
				case err = <-errc: // failed at once
				default:
					time.Sleep(100 * ms)
					if tc.evict {
						if k.Allow("b"); k.Overflows() != 1 {
							t.Error("new key b did not get the overflow bucket")
						}
					}
					time.Sleep(200 * ms)
					cancel()
					err = <-errc
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
				}
				if d := k.Allow("a"); d != tc.want {
					t.Fatalf("Allow after the wait = %+v, want %+v", d, tc.want)
				}
			})
		})
	}
}
