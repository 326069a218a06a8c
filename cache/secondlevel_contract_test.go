package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// recordingLevel is a SecondLevel that records the calls the cache makes.
type recordingLevel struct {
	mu       sync.Mutex
	value    string
	ttl      time.Duration
	found    bool
	sets     []setCall
	releases []string
	attached *cache.Cache[string, string]
}

type setCall struct {
	key       string
	ttl, keep time.Duration
}

func (l *recordingLevel) Get(context.Context, string) (string, time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value, l.ttl, l.found, nil
}

func (l *recordingLevel) Set(_ context.Context, key, _ string, ttl, keep time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sets = append(l.sets, setCall{key, ttl, keep})
	return nil
}

func (l *recordingLevel) Release(_ context.Context, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releases = append(l.releases, key)
}

func (l *recordingLevel) Attach(c *cache.Cache[string, string]) error {
	l.attached = c
	return nil
}

// TestSecondLevelContract: Set gets the stored entry's own deadlines
// (jitter and stale windows included), every Get without a value is
// followed by Set or Release, a value from the second level keeps its
// TTL exactly, and New attaches the cache.
func TestSecondLevelContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &recordingLevel{}
		half := func() float64 { return 0.5 }
		c := newCache[string](t, cache.WithSecondLevel[string, string](l), cache.WithTTL(time.Minute), cache.WithJitter(0.2),
			cache.WithRandom(half), cache.WithStaleWhileRevalidate(10*time.Second), cache.WithStaleIfError(30*time.Second))
		if l.attached != c {
			t.Fatal("New did not attach the cache to the second level")
		}
		ctx := context.Background()
		if _, err := c.Get(ctx, "ok", func(context.Context, string) (string, error) { return "v", nil }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if _, err := c.Get(ctx, "fails", func(context.Context, string) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Fatalf("got %v, want %v", err, boom)
		}
		synctest.Wait()
		want := []setCall{{"ok", 54 * time.Second, 84 * time.Second}} // 60s less 10% jitter; stale-if-error the later window
		if len(l.sets) != 1 || l.sets[0] != want[0] {
			t.Errorf("Set calls %v, want %v", l.sets, want)
		}
		if len(l.releases) != 1 || l.releases[0] != "fails" {
			t.Errorf("Release calls %v, want [fails]", l.releases)
		}

		l.mu.Lock()
		l.value, l.ttl, l.found = "shared", 7*time.Second, true
		l.mu.Unlock()
		if v, err := c.Get(ctx, "other", func(context.Context, string) (string, error) { return "loaded", nil }); v != "shared" || err != nil {
			t.Fatalf("got %q, %v; want the second level's value", v, err)
		}
		time.Sleep(7*time.Second - 1)
		if _, ok := c.Peek("other"); !ok {
			t.Fatal("the copy from the second level expired early: jitter applied to its TTL")
		}
		time.Sleep(1)
		if _, ok := c.Peek("other"); ok {
			t.Fatal("the copy from the second level outlived its TTL")
		}
		if len(l.sets) != 1 || len(l.releases) != 1 {
			t.Errorf("a value from the second level was written back or released: sets %v, releases %v", l.sets, l.releases)
		}
	})
}
