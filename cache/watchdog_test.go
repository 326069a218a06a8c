package cache

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type fakeLoad struct {
	name string
	mu   *sync.Mutex
	out  *[]string
}

func (l *fakeLoad) timedOut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.out = append(*l.out, l.name)
}

// TestWatchdog times out loads with one timer: each at its deadline, in
// deadline order whatever order they were added in, none that completed
// before it, and loads added after the timer went idle.
func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w watchdog
		w.init(time.Now)
		defer w.timer.Stop()
		var mu sync.Mutex
		var out []string
		timedOut := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(out)
		}
		start := time.Now()
		add := func(name string, after time.Duration) *watched {
			l := &watched{deadline: start.Add(after), load: &fakeLoad{name, &mu, &out}}
			w.watch(l)
			return l
		}
		add("b", 2*time.Second)
		add("a", time.Second) // added later with an earlier deadline
		done := add("done", 3*time.Second)
		add("c", 4*time.Second)
		w.unwatch(done) // completed in time
		for _, step := range []struct {
			at   time.Duration
			want []string
		}{
			{999 * time.Millisecond, nil},
			{time.Second, []string{"a"}},
			{2 * time.Second, []string{"a", "b"}},
			{4*time.Second - 1, []string{"a", "b"}},
			{4 * time.Second, []string{"a", "b", "c"}},
		} {
			time.Sleep(start.Add(step.at).Sub(time.Now()))
			synctest.Wait()
			if got := timedOut(); !slices.Equal(got, step.want) {
				t.Fatalf("at %v: timed out %v, want %v", step.at, got, step.want)
			}
		}
		start = time.Now()
		add("d", time.Second) // the timer went idle; a new load sets it again
		time.Sleep(time.Second)
		synctest.Wait()
		if got := timedOut(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
			t.Fatalf("after idling: timed out %v", got)
		}
	})
}
