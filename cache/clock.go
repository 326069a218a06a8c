package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// clockResolution is how often the coarse clock ticks, and so how late a
// hit may notice that an entry expired.
const clockResolution = time.Millisecond

// A coarseClock is a clock read with one atomic load: a goroutine stores
// the monotonic time every clockResolution, and Gets read what it stored.
// Reading time.Now costs 50-60 ns on the virtual machines paved is
// measured on, more than a whole golang-lru hit, so freshness checks on
// the hit path read this clock instead.
//
// The ticker runs only while it is used: it starts with the first cache
// that acquires the clock and stops with the release by the last one
// (Close), and while it runs it parks after a tick during which nobody
// read it. A read finds no time stored when the ticker is parked or
// stopped, reads the exact clock instead and wakes the ticker. A stored
// time is therefore never older than a tick plus the time it takes the
// scheduler to run the ticker, and never ahead of the exact clock. When
// the scheduler runs the ticker late, busy caches catch the clock up
// themselves (catchUp, every catchUpHits hits on a counter stripe).
type coarseClock struct {
	base time.Time // the time stored is time.Since(base)
	wake chan struct{}

	mu    sync.Mutex // guards users, stop and done
	users int
	stop  chan struct{}
	done  chan struct{} // closed when the ticker has returned

	_     [64]byte     // keeps the reads off the lock's cache line
	since atomic.Int64 // time.Since(base) at the last tick; 0 when no ticker stores it
	used  atomic.Bool  // read since the last tick
	_     [56]byte
}

// clock is the coarse clock shared by every Cache of the process.
var clock = newCoarseClock()

func newCoarseClock() *coarseClock {
	// A base in the past keeps every stored time above 0, which means none.
	return &coarseClock{base: time.Now().Add(-time.Second), wake: make(chan struct{}, 1)}
}

// acquire starts the ticker unless another user started it already.
func (k *coarseClock) acquire() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.users++
	if k.users == 1 {
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run(k.stop, k.done)
	}
}

// release stops the ticker when the last user releases it, and waits for
// it to return, so that no goroutine outlives the last cache's Close.
func (k *coarseClock) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.users--
	if k.users == 0 {
		close(k.stop)
		<-k.done
	}
}

// read returns the time of the last tick as nanoseconds since k.base, or
// false when there is none.
func (k *coarseClock) read() (int64, bool) {
	n := k.since.Load()
	if n == 0 {
		select {
		case k.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
		return 0, false
	}
	if !k.used.Load() { // written once a tick, not on every read
		k.used.Store(true)
	}
	return n, true
}

// catchUp stores the exact time if the ticker has not since: Gets call it
// every so many hits, so that a ticker the scheduler runs late (every CPU
// busy with goroutines that never block) does not hold the time back
// while the cache is busy. It never moves the time back, and leaves a
// parked ticker parked.
func (k *coarseClock) catchUp() {
	n := int64(time.Since(k.base))
	for {
		old := k.since.Load()
		if old == 0 || old >= n || k.since.CompareAndSwap(old, n) {
			return
		}
	}
}

// nanos returns t as nanoseconds since k.base. Times from the monotonic
// clock and k.base differ by their monotonic readings; times without one
// (inside a synctest bubble) by their wall clocks, consistently with
// time.Since(k.base) there.
func (k *coarseClock) nanos(t time.Time) int64 { return int64(t.Sub(k.base)) }

func (k *coarseClock) run(stop, done chan struct{}) {
	defer close(done)
	defer k.since.Store(0)
	k.used.Store(true) // as if read, so that the first tick keeps it going
	k.tick()
	t := time.NewTicker(clockResolution)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if k.used.Swap(false) {
			k.tick()
			continue
		}
		// Nobody read the clock for a whole tick: stop storing the time
		// until a reader, finding none, asks for it again.
		select {
		case <-k.wake: // from a read before the ticker started
		default:
		}
		k.since.Store(0)
		t.Stop()
		select {
		case <-stop:
			return
		case <-k.wake:
		}
		k.used.Store(true) // whoever woke it read it
		k.tick()
		t.Reset(clockResolution)
	}
}

// tick stores the time, unless a hit caught the clock up past it
// meanwhile: the time stored never goes back while the ticker runs.
func (k *coarseClock) tick() {
	n := int64(time.Since(k.base))
	for {
		old := k.since.Load()
		if old >= n || k.since.CompareAndSwap(old, n) {
			return
		}
	}
}
