package breaker

import (
	"sync/atomic"

	"github.com/sony/gobreaker/v2"
)

// countWindow holds the outcomes of the last size calls. gobreaker only
// counts over time (rolling buckets) or since the last state change, so
// "50% of the last 20 calls" needs this ring beside it. It is written only
// from gobreaker's IsSuccessful and OnStateChange hooks, which run under
// gobreaker's mutex, so it needs no lock of its own; Counts readers see
// the packed totals through an atomic.
type countWindow struct {
	failed   []bool // ring of outcomes, true for a failure
	next     int    // index the next outcome goes to
	n        int    // outcomes held, up to len(failed)
	failures int    // true values among them

	packed atomic.Uint64 // n<<32 | failures
}

func newCountWindow(size int) *countWindow {
	return &countWindow{failed: make([]bool, size)}
}

// add records one outcome, dropping the oldest when the window is full.
func (w *countWindow) add(failed bool) {
	n, f := w.n, w.failures
	if w.n == len(w.failed) {
		if w.failed[w.next] {
			w.failures--
		}
	} else {
		w.n++
	}
	w.failed[w.next] = failed
	if failed {
		w.failures++
	}
	if w.next++; w.next == len(w.failed) {
		w.next = 0
	}
	// A full window of successes stays the same: skip the store, which is
	// the one write readers could contend on.
	if w.n != n || w.failures != f {
		w.packed.Store(uint64(w.n)<<32 | uint64(w.failures))
	}
}

// reset empties the window, on every state change.
func (w *countWindow) reset() {
	clear(w.failed)
	w.next, w.n, w.failures = 0, 0, 0
	w.packed.Store(0)
}

// counts returns the calls and failures in the window. It is safe to call
// from any goroutine.
func (w *countWindow) counts() (calls, failures int) {
	p := w.packed.Load()
	return int(p >> 32), int(uint32(p))
}

// The trip rule runs in gobreaker's ReadyToTrip, IsSuccessful and
// IsExcluded hooks, under gobreaker's mutex.

// readyToTrip decides, after each failure of a closed breaker, whether it
// opens.
func (b *Breaker) readyToTrip(c gobreaker.Counts) bool {
	calls, failures := int(c.TotalSuccesses+c.TotalFailures), int(c.TotalFailures)
	if b.cfg.consecutive > 0 {
		if int(c.ConsecutiveFailures) < b.cfg.consecutive {
			return false
		}
	} else {
		if b.window != nil {
			calls, failures = b.window.n, b.window.failures
		}
		// Division is correctly rounded, so 3 of 10 meets a rate of 0.3
		// exactly; rate*calls would not.
		if calls < b.cfg.minCalls || float64(failures)/float64(calls) < b.cfg.rate {
			return false
		}
	}
	b.tripped = Counts{Calls: calls, Failures: failures, ConsecutiveFailures: int(c.ConsecutiveFailures)}
	return true
}

// isSuccessful receives the marker of a finished call (nil for a success),
// and feeds the count window, which must be up to date before gobreaker
// asks readyToTrip.
func (b *Breaker) isSuccessful(err error) bool {
	ok := err == nil
	if b.window != nil {
		b.window.add(!ok)
	}
	return ok
}

func isExcluded(err error) bool { return err == errCountedIgnored }
