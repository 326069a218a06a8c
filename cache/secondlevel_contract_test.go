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

// negativeLevel is a recordingLevel that shares negative results.
type negativeLevel struct {
	recordingLevel
	gets      int
	getErr    error
	negatives []setCall
}

func (l *negativeLevel) Get(context.Context, string) (string, time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gets++
	return "", l.ttl, l.found, l.getErr
}

func (l *negativeLevel) SetNegative(_ context.Context, key string, err error, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !errors.Is(err, cache.ErrNotFound) {
		panic("not a negative result")
	}
	l.negatives = append(l.negatives, setCall{key: key, ttl: ttl})
	return nil
}

// TestSecondLevelNegative: a negative result the cache stores goes to a
// second level with SetNegative, and one from it is served and stored
// as negative for its TTL.
func TestSecondLevelNegative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &negativeLevel{}
		c := newCache[string](t, cache.WithSecondLevel[string, string](l), cache.WithJitter(0), cache.WithNegativeCache(time.Minute, nil))
		ctx := context.Background()
		if _, err := c.Get(ctx, "gone", func(context.Context, string) (string, error) { return "", cache.ErrNotFound }); !errors.Is(err, cache.ErrNotFound) {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(l.negatives) != 1 || l.negatives[0] != (setCall{key: "gone", ttl: time.Minute}) || len(l.releases) != 0 {
			t.Fatalf("SetNegative calls %v, releases %v; want one for a minute", l.negatives, l.releases)
		}

		l.mu.Lock()
		l.ttl, l.found, l.getErr = 5*time.Second, true, cache.ErrNotFound
		l.mu.Unlock()
		loader := func(context.Context, string) (string, error) {
			t.Error("loaded a key the second level knows is missing")
			return "", nil
		}
		for range 2 {
			if _, err := c.Get(ctx, "shared", loader); !errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("got %v, want the shared negative result", err)
			}
		}
		if l.gets != 2 { // "gone" and "shared" once each
			t.Errorf("%d second level Gets, want 2: the negative result is cached", l.gets)
		}
		time.Sleep(5 * time.Second)
		if _, err := c.Get(ctx, "shared", func(context.Context, string) (string, error) { return "v", nil }); !errors.Is(err, cache.ErrNotFound) || l.gets != 3 {
			t.Errorf("after its TTL: %v after %d Gets, want the second level asked again", err, l.gets)
		}
	})
}
