package redisbreaker_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/redisbreaker"
	"github.com/paved-go/paved/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errBoom = errors.New("boom")
	quiet   = breaker.WithLogger(slog.New(slog.DiscardHandler))
)

func succeed(context.Context) error { return nil }
func fail(context.Context) error    { return errBoom }

// instance is what one process of a fleet would have: its own client
// and Store on the shared Redis.
func newClient(t testing.TB, s *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testLockTTL is the lock TTL of test stores.
const testLockTTL = 10 * time.Second

// newStore returns a Store with generous bounds, so that a machine busy
// running tests under -race makes no call time out, unless opts say
// otherwise.
func newStore(t testing.TB, s *redistest.Server, opts ...redisbreaker.Option) (*redisbreaker.Store, *redis.Client) {
	t.Helper()
	c := newClient(t, s)
	opts = append([]redisbreaker.Option{redisbreaker.WithTimeout(2 * time.Second),
		redisbreaker.WithLockTTL(testLockTTL), redisbreaker.WithLockWait(testLockTTL)}, opts...)
	st, err := redisbreaker.NewStore(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

func newBreaker(t testing.TB, name string, store breaker.SharedStore, opts ...breaker.Option) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(name, append([]breaker.Option{quiet, breaker.WithSharedState(store)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewStoreRejects(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	noDeadlines := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer noDeadlines.Close()
	defer c.Close()
	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []redisbreaker.Option
		want   string
	}{
		{"nil client", nil, nil, "redisbreaker: NewStore: nil client"},
		{"nil *redis.Client", (*redis.Client)(nil), nil, "redisbreaker: NewStore: nil client"},
		{"nil *redis.ClusterClient", (*redis.ClusterClient)(nil), nil, "redisbreaker: NewStore: nil client"},
		{"client ignoring deadlines", noDeadlines, nil, "redisbreaker: NewStore: the client ignores context deadlines"},
		{"cluster client ignoring deadlines", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), nil, "redisbreaker: NewStore: the client ignores context deadlines"},
		{"nil option", c, []redisbreaker.Option{nil}, "redisbreaker: option 0 is nil"},
		{"zero timeout", c, []redisbreaker.Option{redisbreaker.WithTimeout(0)}, "redisbreaker: WithTimeout: 0s is not positive"},
		{"negative lock TTL", c, []redisbreaker.Option{redisbreaker.WithLockTTL(-time.Second)}, "redisbreaker: WithLockTTL: -1s is not positive"},
		{"zero lock wait", c, []redisbreaker.Option{redisbreaker.WithLockWait(0)}, "redisbreaker: WithLockWait: 0s is not positive"},
		{"zero state TTL", c, []redisbreaker.Option{redisbreaker.WithStateTTL(0)}, "redisbreaker: WithStateTTL: 0s is not positive"},
		{"lock TTL below timeout", c, []redisbreaker.Option{redisbreaker.WithTimeout(time.Second), redisbreaker.WithLockTTL(time.Second)}, "redisbreaker: lock TTL 1s is not above the timeout 1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisbreaker.NewStore(tc.client, tc.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeysHavePrefixAndHashTag(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		opts   []redisbreaker.Option
		prefix string
	}{
		{"default", nil, "paved:breaker:"},
		{"custom", []redisbreaker.Option{redisbreaker.WithPrefix("svc:cb:")}, "svc:cb:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, c := newStore(t, s, tc.opts...)
			if err := c.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			// A Registry keyed by ServeMux patterns: braces in a name.
			r, err := breaker.NewRegistry(quiet, breaker.WithSharedState(store), breaker.WithConsecutiveFailures(3))
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"inventory", "GET /items/{id}"}
			for _, n := range names {
				if err := r.Get(n).Do(ctx, succeed); err != nil {
					t.Fatal(err)
				}
			}
			// Hold one lock, so a lock key is there to see.
			if err := store.Lock("inventory"); err != nil {
				t.Fatal(err)
			}
			defer store.Unlock("inventory")

			var keys []string
			iter := c.Scan(ctx, 0, "*", 100).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{
				tc.prefix + "{inventory}:state":       true,
				tc.prefix + "{inventory}:lock":        true,
				tc.prefix + "{GET /items/{id}}:state": true,
			}
			if len(keys) != len(want) {
				t.Fatalf("keys %q, want %d", keys, len(want))
			}
			for _, k := range keys {
				if !want[k] {
					t.Errorf("unexpected key %q", k)
				}
			}
			// The Cluster hash tag (first "{" to the next "}") is the same
			// for a breaker's state and lock keys.
			tag := regexp.MustCompile(`\{([^}]*)\}`)
			for _, n := range names {
				st, lk := tag.FindString(store.StateKey(n)), tag.FindString(store.LockKey(n))
				if st == "" || st != lk {
					t.Errorf("%q: hash tags %q and %q differ", n, st, lk)
				}
			}
			if got := store.StateKey("gobreaker:state:inventory"); got != tc.prefix+"{inventory}:state" {
				t.Errorf("gobreaker's state name maps to %q", got)
			}
			if got := store.LockKey("gobreaker:mutex:inventory"); got != tc.prefix+"{inventory}:lock" {
				t.Errorf("gobreaker's mutex name maps to %q", got)
			}
		})
	}
}

func TestLockExpiresWhenHolderDies(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	store, c := newStore(t, s)
	// A holder that took the lock and died: never released.
	const ttl = 300 * time.Millisecond
	if err := c.Set(ctx, store.LockKey("inventory"), "dead holder", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := store.Lock("inventory"); err != nil {
		t.Fatalf("Lock after the dead holder's lock expired: %v", err)
	}
	if took := time.Since(start); took < ttl/2 {
		t.Errorf("Lock took %v: it did not wait for the lock to expire", took)
	}
	tok, err := c.Get(ctx, store.LockKey("inventory")).Result()
	if err != nil || tok == "dead holder" || len(tok) != 32 {
		t.Fatalf("lock holds %q (%v), want a fresh 32-hex token", tok, err)
	}
	if pttl := c.PTTL(ctx, store.LockKey("inventory")).Val(); pttl <= 0 || pttl > testLockTTL {
		t.Errorf("lock PTTL %v, want in (0, %v]", pttl, testLockTTL)
	}
	if err := store.Unlock("inventory"); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, store.LockKey("inventory")).Val(); n != 0 {
		t.Fatal("Unlock left the lock")
	}

	// A breaker finding a dead holder's lock records its call once the
	// lock expired.
	if err := c.Set(ctx, store.LockKey("inventory"), "dead holder", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	b := newBreaker(t, "inventory", store, breaker.WithConsecutiveFailures(1))
	if err := b.Do(ctx, fail); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want errBoom", err)
	}
	other, _ := newStore(t, s)
	if err := newBreaker(t, "inventory", other, breaker.WithConsecutiveFailures(1)).Do(ctx, succeed); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("another instance: err = %v, want ErrOpen once the failure was recorded", err)
	}
}

func TestLockWaitIsBounded(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	store, c := newStore(t, s, redisbreaker.WithLockWait(20*time.Millisecond))
	if err := c.Set(ctx, store.LockKey("inventory"), "other", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := store.Lock("inventory"); !errors.Is(err, redisbreaker.ErrLockTimeout) {
		t.Fatalf("err = %v, want ErrLockTimeout", err)
	}
	// Unlock of a lock it does not hold leaves the other holder's lock.
	if err := store.Unlock("inventory"); err != nil {
		t.Fatal(err)
	}
	if v := c.Get(ctx, store.LockKey("inventory")).Val(); v != "other" {
		t.Fatalf("lock holds %q, want the other holder's", v)
	}

	// A breaker whose lock is stuck still serves its calls, deciding
	// locally, and no error of the store reaches the caller.
	b := newBreaker(t, "inventory", store, breaker.WithConsecutiveFailures(2))
	for range 3 {
		if err := b.Do(ctx, succeed); err != nil {
			t.Fatalf("Do with the lock stuck: %v", err)
		}
	}
}

// TestStoreExpiredLockIsNotOurs: a lock that expired under its holder and
// was taken by another is not deleted by the first holder's Unlock.
func TestStoreExpiredLockIsNotOurs(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	a, c := newStore(t, s, redisbreaker.WithTimeout(500*time.Millisecond), redisbreaker.WithLockTTL(time.Second))
	b, _ := newStore(t, s)
	if err := a.Lock("inventory"); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock("inventory"); err != nil { // waits for a's to expire
		t.Fatal(err)
	}
	if err := a.Unlock("inventory"); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, a.LockKey("inventory")).Val(); n != 1 {
		t.Fatal("a's Unlock deleted b's lock")
	}
	if err := b.Unlock("inventory"); err != nil {
		t.Fatal(err)
	}
}

// TestSetDataUnlockWritesOnlyUnderTheLock: a holder whose lock expired
// cannot overwrite the state the next holder wrote.
func TestSetDataUnlockWritesOnlyUnderTheLock(t *testing.T) {
	s := redistest.Start(t)
	ctx := context.Background()
	a, c := newStore(t, s, redisbreaker.WithTimeout(500*time.Millisecond), redisbreaker.WithLockTTL(time.Second))
	b, _ := newStore(t, s)
	if data, err := a.LockGetData("inventory"); err != nil || data != nil {
		t.Fatalf("LockGetData = %q, %v; want no state yet", data, err)
	}
	data, err := b.LockGetData("inventory") // waits for a's lock to expire
	if err != nil || data != nil {
		t.Fatalf("b: LockGetData = %q, %v", data, err)
	}
	if err := a.SetDataUnlock("inventory", []byte("from a")); !errors.Is(err, redisbreaker.ErrLockLost) {
		t.Fatalf("a: SetDataUnlock err = %v, want ErrLockLost", err)
	}
	if n := c.Exists(ctx, a.StateKey("inventory")).Val(); n != 0 {
		t.Fatal("a wrote the state without the lock")
	}
	if err := b.SetDataUnlock("inventory", []byte("from b")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, a.StateKey("inventory")).Result(); got != "from b" {
		t.Fatalf("state %q, want b's", got)
	}
	if n := c.Exists(ctx, a.LockKey("inventory")).Val(); n != 0 {
		t.Fatal("SetDataUnlock left the lock")
	}
	if ttl := c.PTTL(ctx, a.StateKey("inventory")).Val(); ttl <= 0 || ttl > redisbreaker.DefaultStateTTL {
		t.Fatalf("state PTTL %v, want the state TTL", ttl)
	}
	if data, err := a.LockGetData("inventory"); err != nil || string(data) != "from b" {
		t.Fatalf("LockGetData = %q, %v; want b's state", data, err)
	}
	if err := a.Unlock("inventory"); err != nil {
		t.Fatal(err)
	}
}
