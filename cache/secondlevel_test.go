package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// sharedStore is an in-memory SecondLevel standing in for Redis.
type sharedStore struct {
	mu       sync.Mutex
	m        map[string]storedValue
	failing  bool
	released int
}

type storedValue struct {
	v       string
	expires time.Time
}

func (s *sharedStore) Get(_ context.Context, key string) (string, time.Duration, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return "", 0, false, errors.New("connection refused")
	}
	sv, ok := s.m[key]
	if !ok || !time.Now().Before(sv.expires) {
		return "", 0, false, nil
	}
	return sv.v, time.Until(sv.expires), true, nil
}

func (s *sharedStore) Set(ctx context.Context, key string, v string, ttl, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("connection refused")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.m[key] = storedValue{v, time.Now().Add(ttl)}
	return nil
}

func (s *sharedStore) Release(context.Context, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released++
}

func TestSecondLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &sharedStore{m: map[string]storedValue{}}
		opts := []cache.Option{cache.WithTTL(time.Minute), cache.WithJitter(0), cache.WithSecondLevel[string, string](store)}
		a, b := newCache[string](t, opts...), newCache[string](t, opts...) // two instances
		ctx := context.Background()
		loads := 0
		load := func(context.Context, string) (string, error) { loads++; return "v", nil }

		if v, err := a.Get(ctx, "k", load); v != "v" || err != nil || loads != 1 {
			t.Fatalf("instance a: %q, %v after %d loads", v, err, loads)
		}
		synctest.Wait() // the write-back
		time.Sleep(20 * time.Second)
		if v, err := b.Get(ctx, "k", load); v != "v" || err != nil || loads != 1 {
			t.Fatalf("instance b: %q, %v after %d loads; want the value a stored", v, err, loads)
		}
		time.Sleep(40*time.Second - 1)
		if _, ok := b.Peek("k"); !ok {
			t.Fatal("b's copy expired before the second level's")
		}
		time.Sleep(time.Nanosecond)
		if _, ok := b.Peek("k"); ok {
			t.Fatal("b kept the value past the TTL the second level gave it")
		}

		store.mu.Lock()
		store.failing = true
		store.mu.Unlock()
		var logs logBuffer
		c := newCache[string](t, append(opts, cache.WithLogger(logs.logger()))...)
		if v, err := c.Get(ctx, "other", load); v != "v" || err != nil || loads != 2 {
			t.Fatalf("with the second level down: %q, %v after %d loads; want the loader's value", v, err, loads)
		}
		synctest.Wait()
		if !strings.Contains(logs.String(), "second level get failed") || !strings.Contains(logs.String(), "second level set failed") {
			t.Fatalf("second level failures not logged: %s", logs.String())
		}
	})
}

func TestWithSecondLevelChecksTypes(t *testing.T) {
	store := &sharedStore{m: map[string]storedValue{}}
	if c, err := cache.New[string, int]("test", cache.WithSecondLevel[string, string](store)); err == nil {
		c.Close()
		t.Fatal("New accepted a second level of other types")
	}
}

// TestSecondLevelSkipsSupersededLoads: a load that Delete superseded
// stores nothing, in the second level either, so another instance does
// not get the value read before the Delete.
func TestSecondLevelSkipsSupersededLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &sharedStore{m: map[string]storedValue{}}
		opts := []cache.Option{cache.WithSecondLevel[string, string](store)}
		a, b := newCache[string](t, opts...), newCache[string](t, opts...)
		ctx := context.Background()
		gate := make(chan struct{})
		go a.Get(ctx, "k", func(context.Context, string) (string, error) { <-gate; return "before", nil })
		synctest.Wait()
		a.Delete("k") // the backend changed; the running load read it before
		close(gate)
		synctest.Wait()
		v, err := b.Get(ctx, "k", func(context.Context, string) (string, error) { return "after", nil })
		if v != "after" || err != nil {
			t.Fatalf("another instance got %q, %v; want %q, not the value read before the Delete", v, err, "after")
		}
	})
}
