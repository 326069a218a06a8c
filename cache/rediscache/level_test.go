package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/metric"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/cache/rediscache"
	"github.com/paved-go/paved/internal/redistest"
)

// TestSharedLoad: instance A loads, instance B, with its own cache, gets
// the value from Redis without loading, with A's deadlines; the Redis TTL
// is the last stale deadline.
func TestSharedLoad(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	copts := []cache.Option{cache.WithTTL(10 * time.Second), cache.WithJitter(0), cache.WithStaleWhileRevalidate(20 * time.Second)}
	reader := metric.NewManualReader()
	a := newInstance[string, string](t, client, copts, rediscache.WithMeterProvider(metric.NewMeterProvider(metric.WithReader(reader))))
	b := newInstance[string, string](t, client, copts)
	ctx := context.Background()
	var la, lb loads

	if v, err := a.c.Get(ctx, "k", la.value("from-a")); v != "from-a" || err != nil {
		t.Fatalf("A: %q, %v", v, err)
	}
	// The write-back runs after A's callers have the value.
	eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{k}").Val() == 1 })
	if v, err := b.c.Get(ctx, "k", lb.value("from-b")); v != "from-a" || err != nil || lb.count() != 0 {
		t.Fatalf("B: %q, %v after %d loads; want A's value without a load", v, err, lb.count())
	}
	if la.count() != 1 {
		t.Errorf("A loaded %d times, want 1", la.count())
	}
	pttl := client.PTTL(ctx, "paved:cache:test:{k}").Val()
	if pttl <= 29*time.Second || pttl > 30*time.Second {
		t.Errorf("PTTL %v, want just under 30s: the 10s TTL plus the 20s stale-while-revalidate window", pttl)
	}
	if n := client.Exists(ctx, "paved:cache:test:{k}:lock").Val(); n != 0 {
		t.Error("the lock outlived the load")
	}
	if got := counts(t, reader); got["miss"] != 1 {
		t.Errorf("A's second level requests %v, want one miss", got)
	}
}

// TestFreshnessFollowsRedis: B's copy becomes stale when A's does, not a
// full TTL after B read it.
func TestFreshnessFollowsRedis(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	copts := []cache.Option{cache.WithTTL(time.Second), cache.WithJitter(0)}
	a := newInstance[string, string](t, client, copts)
	b := newInstance[string, string](t, client, copts)
	ctx := context.Background()
	var la, lb loads
	if _, err := a.c.Get(ctx, "k", la.value("v")); err != nil {
		t.Fatal(err)
	}
	aDone := time.Now() // A's copy, and the value in Redis, are fresh until 1s before this at most
	eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{k}").Val() == 1 })
	time.Sleep(500 * time.Millisecond)
	bStart := time.Now() // a copy fresh for a full TTL from B's read would last until 1s after this at least
	if v, err := b.c.Get(ctx, "k", lb.value("b")); v != "v" || err != nil || lb.count() != 0 {
		t.Fatalf("B: %q, %v after %d loads", v, err, lb.count())
	}
	time.Sleep(time.Until(aDone.Add(time.Second + 50*time.Millisecond)))
	_, ok := b.c.Peek("k")
	if time.Now().Before(bStart.Add(time.Second)) {
		if ok {
			t.Error("B's copy outlived the deadline A gave the value")
		}
	} else {
		t.Log("the machine was too slow to tell the deadlines apart")
	}
}

// TestOneLoadAcrossInstances: 200 concurrent misses across 4 instances
// load once.
func TestOneLoadAcrossInstances(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	var insts []instance[string, string]
	for range 4 {
		insts = append(insts, newInstance[string, string](t, client, nil, rediscache.WithLock(30*time.Second, 30*time.Second)))
	}
	var n loads
	load := n.value("v")
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			<-start
			v, err := insts[i%4].c.Get(context.Background(), "hot", load)
			if err == nil && v != "v" {
				err = errors.New("got " + v)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n.count() != 1 {
		t.Errorf("%d loads across 4 instances, want 1", n.count())
	}
}

// TestAbandonedLock: a lock whose holder never releases it does not wedge
// the other instances.
func TestAbandonedLock(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()

	t.Run("wait bound", func(t *testing.T) {
		client.Set(ctx, "paved:cache:test:{a}:lock", "crashed", time.Minute)
		reader := metric.NewManualReader()
		b := newInstance[string, string](t, client, nil, rediscache.WithLock(10*time.Second, 100*time.Millisecond),
			rediscache.WithMeterProvider(metric.NewMeterProvider(metric.WithReader(reader))))
		var n loads
		start := time.Now()
		if v, err := b.c.Get(ctx, "a", n.value("v")); v != "v" || err != nil || n.count() != 1 {
			t.Fatalf("%q, %v after %d loads", v, err, n.count())
		}
		if took := time.Since(start); took < 100*time.Millisecond {
			t.Errorf("loaded after %v, before the 100ms wait", took)
		}
		if got := counts(t, reader); got["wait_expired"] != 1 {
			t.Errorf("requests %v, want one wait_expired", got)
		}
		// Not the lock holder: the value is not written to Redis.
		time.Sleep(50 * time.Millisecond)
		if client.Exists(ctx, "paved:cache:test:{a}").Val() != 0 {
			t.Error("a load without the lock wrote Redis")
		}
	})

	t.Run("lock expiry", func(t *testing.T) {
		client.Set(ctx, "paved:cache:test:{b}:lock", "crashed", 200*time.Millisecond)
		b := newInstance[string, string](t, client, nil, rediscache.WithLock(10*time.Second, time.Minute))
		var n loads
		if v, err := b.c.Get(ctx, "b", n.value("v")); v != "v" || err != nil || n.count() != 1 {
			t.Fatalf("%q, %v after %d loads", v, err, n.count())
		}
		// It took the expired lock over, so it shares the value.
		eventually(t, "the value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{b}").Val() == 1 })
	})

	t.Run("holder's load times out", func(t *testing.T) {
		a := newInstance[string, string](t, client, []cache.Option{cache.WithLoadTimeout(200 * time.Millisecond)})
		b := newInstance[string, string](t, client, nil, rediscache.WithLock(time.Minute, time.Minute))
		blocked := make(chan struct{})
		_, err := a.c.Get(ctx, "c", func(ctx context.Context, _ string) (string, error) {
			close(blocked)
			<-ctx.Done() // a loader stuck until its context ends
			return "", ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("A: %v, want a timeout", err)
		}
		<-blocked
		var n loads
		if v, err := b.c.Get(ctx, "c", n.value("v")); v != "v" || err != nil || n.count() != 1 {
			t.Fatalf("B: %q, %v after %d loads", v, err, n.count())
		}
	})
}

// TestFailedLoadReleasesLock: an error is not stored in Redis, and the
// lock is freed at once, so a waiting instance need not wait it out.
func TestFailedLoadReleasesLock(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	a := newInstance[string, string](t, client, nil)
	b := newInstance[string, string](t, client, nil, rediscache.WithLock(time.Minute, time.Minute))
	boom := errors.New("boom")
	if _, err := a.c.Get(ctx, "k", func(context.Context, string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var n loads
	if v, err := b.c.Get(ctx, "k", n.value("v")); v != "v" || err != nil || n.count() != 1 {
		t.Fatalf("B: %q, %v after %d loads", v, err, n.count())
	}
}

// TestNegativeShared: with WithNegativeCache, a cache.ErrNotFound is shared
// for its TTL like a value; other negative results are not.
func TestNegativeShared(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	gone := errors.New("gone")
	copts := []cache.Option{cache.WithNegativeCache(time.Minute, func(err error) bool {
		return errors.Is(err, cache.ErrNotFound) || errors.Is(err, gone)
	})}
	a := newInstance[string, string](t, client, copts)
	b := newInstance[string, string](t, client, copts)
	notFound := func(context.Context, string) (string, error) { return "", fmt.Errorf("no user: %w", cache.ErrNotFound) }
	if _, err := a.c.Get(ctx, "missing", notFound); !errors.Is(err, cache.ErrNotFound) {
		t.Fatal(err)
	}
	eventually(t, "the negative result in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{missing}").Val() == 1 })
	if pttl := client.PTTL(ctx, "paved:cache:test:{missing}").Val(); pttl <= 50*time.Second || pttl > time.Minute {
		t.Errorf("PTTL %v, want the negative TTL less jitter", pttl)
	}
	var n loads
	if _, err := b.c.Get(ctx, "missing", n.value("v")); !errors.Is(err, cache.ErrNotFound) || n.count() != 0 {
		t.Fatalf("B: %v after %d loads; want cache.ErrNotFound from Redis", err, n.count())
	}

	if _, err := a.c.Get(ctx, "other", func(context.Context, string) (string, error) { return "", gone }); !errors.Is(err, gone) {
		t.Fatal(err)
	}
	eventually(t, "the lock freed", func() bool { return client.Exists(ctx, "paved:cache:test:{other}:lock").Val() == 0 })
	if client.Exists(ctx, "paved:cache:test:{other}").Val() != 0 {
		t.Error("a negative result other than cache.ErrNotFound was stored in Redis")
	}
}

// TestInvalidation: Delete on one instance removes the key from Redis and
// from the other instance's cache.
func TestInvalidation(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	a := newInstance[string, string](t, client, nil)
	b := newInstance[string, string](t, client, nil)
	var n loads
	if _, err := a.c.Get(ctx, "k", n.value("old")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{k}").Val() == 1 })
	if v, _ := b.c.Get(ctx, "k", n.value("b")); v != "old" {
		t.Fatalf("B: %q", v)
	}
	if err := a.l.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.c.Peek("k"); ok {
		t.Error("A kept its own copy")
	}
	if client.Exists(ctx, "paved:cache:test:{k}").Val() != 0 {
		t.Error("the value is still in Redis")
	}
	eventually(t, "B dropping its copy", func() bool { _, ok := b.c.Peek("k"); return !ok })
	if v, _ := b.c.Get(ctx, "k", n.value("new")); v != "new" || n.count() != 2 {
		t.Errorf("B after the Delete: %q after %d loads, want a new load", v, n.count())
	}
}

// TestIntegerKeys: integer keys need no codec and survive the round trip
// through invalidation messages.
func TestIntegerKeys(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	a := newInstance[int64, []int](t, client, nil)
	b := newInstance[int64, []int](t, client, nil)
	load := func(_ context.Context, k int64) ([]int, error) { return []int{int(k), 2}, nil }
	if _, err := a.c.Get(ctx, -42, load); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{-42}").Val() == 1 })
	v, err := b.c.Get(ctx, -42, func(context.Context, int64) ([]int, error) { return nil, errors.New("loaded") })
	if err != nil || len(v) != 2 || v[0] != -42 {
		t.Fatalf("B: %v, %v", v, err)
	}
	if err := a.l.Delete(ctx, -42); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B dropping its copy", func() bool { _, ok := b.c.Peek(-42); return !ok })
}

type point struct{ X, Y int }

// TestKeyCodec: other key types work with WithKeyCodec, and hash tags
// stay whole whatever the key holds.
func TestKeyCodec(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	codec := rediscache.WithKeyCodec(func(p point) string { return strconv.Itoa(p.X) + "}" + strconv.Itoa(p.Y) },
		func(s string) (point, error) {
			var p point
			var err error
			for i := range len(s) {
				if s[i] == '}' {
					if p.X, err = strconv.Atoi(s[:i]); err == nil {
						p.Y, err = strconv.Atoi(s[i+1:])
					}
					return p, err
				}
			}
			return p, errors.New("bad point")
		})
	a := newInstance[point, string](t, client, nil, codec)
	b := newInstance[point, string](t, client, nil, codec)
	if _, err := a.c.Get(ctx, point{1, 2}, func(context.Context, point) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, "paved:cache:test:{1%7D2}").Val() == 1 })
	if v, _ := b.c.Get(ctx, point{1, 2}, nil); v != "v" {
		t.Fatalf("B: %q", v)
	}
	if err := a.l.Delete(ctx, point{1, 2}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B dropping its copy", func() bool { _, ok := b.c.Peek(point{1, 2}); return !ok })
}

func TestNewErrors(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer client.Close()
	tests := []struct {
		name   string
		cache  string
		client redis.UniversalClient
		opts   []rediscache.Option
	}{
		{"empty name", "", client, nil},
		{"nil client", "x", nil, nil},
		{"nil *redis.Client", "x", (*redis.Client)(nil), nil},
		{"brace in name", "a{b}", client, nil},
		{"brace in prefix", "x", client, []rediscache.Option{rediscache.WithPrefix("p{")}},
		{"nil option", "x", client, []rediscache.Option{nil}},
		{"nil codec", "x", client, []rediscache.Option{rediscache.WithCodec(nil)}},
		{"key codec of another type", "x", client, []rediscache.Option{rediscache.WithKeyCodec(strconv.Itoa, strconv.Atoi)}},
		{"nil key codec", "x", client, []rediscache.Option{rediscache.WithKeyCodec[string](nil, nil)}},
		{"zero timeout", "x", client, []rediscache.Option{rediscache.WithTimeout(0)}},
		{"zero lock ttl", "x", client, []rediscache.Option{rediscache.WithLock(0, time.Second)}},
		{"negative wait", "x", client, []rediscache.Option{rediscache.WithLock(time.Second, -1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := rediscache.New[string, string](tc.cache, tc.client, tc.opts...)
			if err == nil {
				l.Close()
				t.Fatal("New succeeded")
			}
			if got := err.Error(); len(got) < 11 || got[:11] != "rediscache:" {
				t.Errorf("error %q lacks the package prefix", got)
			}
		})
	}
	t.Run("struct key without codec", func(t *testing.T) {
		if _, err := rediscache.New[point, string]("x", client); err == nil {
			t.Fatal("New succeeded")
		}
	})
	t.Run("prefix with brace in name", func(t *testing.T) {
		l, err := rediscache.New[string, string]("a{b}", client, rediscache.WithPrefix("p:"))
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	})
	t.Run("second cache", func(t *testing.T) {
		l, err := rediscache.New[string, string]("x", client, rediscache.WithTimeout(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := cache.New[string, string]("x", cache.WithSecondLevel[string, string](l))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c2, err := cache.New[string, string]("x", cache.WithSecondLevel[string, string](l)); err == nil {
			c2.Close()
			t.Fatal("a Level served two caches")
		}
	})
}

// TestDeleteDuringLoad: a load that started before a Delete does not
// write its value to Redis after it, even when its instance misses the
// invalidation message (here the Delete is done by hand in Redis, so no
// message is sent): the Delete took the lock away.
func TestDeleteDuringLoad(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	a := newInstance[string, string](t, client, nil)
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		a.c.Get(ctx, "k", func(context.Context, string) (string, error) {
			close(started)
			<-gate
			return "old", nil
		})
	}()
	<-started
	if client.Exists(ctx, "paved:cache:test:{k}:lock").Val() != 1 {
		t.Fatal("the loading instance holds no lock")
	}
	client.Del(ctx, "paved:cache:test:{k}", "paved:cache:test:{k}:lock")
	close(gate)
	<-done
	a.c.Close() // waits for the load's write-back
	if client.Exists(ctx, "paved:cache:test:{k}").Val() != 0 {
		t.Error("a load from before the Delete wrote its value to Redis")
	}
}

// TestUndecodableValue: a value that does not decode is not served; the
// instance loads the key itself.
func TestUndecodableValue(t *testing.T) {
	s := redistest.Start(t)
	client := newClient(t, s)
	ctx := context.Background()
	reader := metric.NewManualReader()
	a := newInstance[string, []int](t, client, nil, rediscache.WithMeterProvider(metric.NewMeterProvider(metric.WithReader(reader))))
	client.Set(ctx, "paved:cache:test:{k}", `0:"not a list"`, time.Minute)
	v, err := a.c.Get(ctx, "k", func(context.Context, string) ([]int, error) { return []int{1}, nil })
	if err != nil || len(v) != 1 {
		t.Fatalf("%v, %v; want the loader's value", v, err)
	}
	if got := counts(t, reader); got["error"] != 1 {
		t.Errorf("requests %v, want one error", got)
	}
}

// TestNewRefusesClientIgnoringDeadlines: without ContextTimeoutEnabled
// go-redis ignores WithTimeout's deadline, and a stalled Redis would hold
// every load for seconds, so New refuses such a client.
func TestNewRefusesClientIgnoringDeadlines(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err := rediscache.New[string, string]("deadlines", c)
	if err == nil || !strings.Contains(err.Error(), "ContextTimeoutEnabled") {
		t.Fatalf("New = %v, want a refusal naming ContextTimeoutEnabled", err)
	}
}
