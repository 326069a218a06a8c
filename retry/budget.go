package retry

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Budget caps retries to a share of recent requests, as Envoy's and
// Finagle's retry budgets do: over the last ten seconds, retries may add
// at most ratio × requests, plus minPerSecond per second so that a
// low-traffic client can still retry. When an upstream fails broadly,
// retries then stay a small addition to the load instead of multiplying
// it. A Budget is safe for concurrent use; share one between all
// Retriers calling the same upstream.
//
// Counting a request reads no clock and takes no lock: it adds to one of
// a few counters on their own cache lines. The counts are placed in the
// ten-second window when a retry is considered, spread evenly over the
// time since they were last placed. Under sustained failures that happens
// at every retry, so the window is exact to the second; after a quiet
// spell, the first retry sees the spell's requests as if they had come at
// an even rate.
type Budget struct {
	ratio        float64
	minPerSecond float64
	base         time.Time // the monotonic clock's origin
	pending      [budgetStripes]paddedCounter

	mu     sync.Mutex // the retry path only
	placed time.Duration
	slots  [budgetWindow]budgetSlot
}

const (
	budgetWindow  = 10 // seconds, one slot each
	budgetStripes = 8
)

type paddedCounter struct {
	n atomic.Int64
	_ [56]byte // one 64-byte cache line each
}

type budgetSlot struct {
	sec      int64 // second (since base) the slot counts
	requests float64
	retries  int64
}

// NewBudget returns a budget allowing retries of up to ratio (0 to 1) of
// recent requests plus minPerSecond retries per second. The default every
// Retrier gets is NewBudget(0.2, 10).
func NewBudget(ratio, minPerSecond float64) (*Budget, error) {
	if ratio < 0 || ratio > 1 || ratio != ratio {
		return nil, fmt.Errorf("retry: budget ratio %v is not within 0..1", ratio)
	}
	if minPerSecond < 0 || minPerSecond != minPerSecond {
		return nil, fmt.Errorf("retry: budget floor %v per second is negative", minPerSecond)
	}
	b := &Budget{ratio: ratio, minPerSecond: minPerSecond, base: time.Now()}
	for i := range b.slots {
		b.slots[i].sec = -budgetWindow // outside any window
	}
	return b, nil
}

// request records a first attempt.
func (b *Budget) request() {
	if b != nil {
		b.pending[rand.Uint32()%budgetStripes].n.Add(1)
	}
}

// withdraw takes one retry from the budget and reports whether there was
// room for it.
func (b *Budget) withdraw() bool {
	if b == nil {
		return true
	}
	now := time.Since(b.base)
	sec := int64(now / time.Second)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.place(now)
	var requests float64
	var retries int64
	for i := range b.slots {
		if s := &b.slots[i]; s.sec > sec-budgetWindow && s.sec <= sec {
			requests += s.requests
			retries += s.retries
		}
	}
	if float64(retries+1) > b.ratio*requests+b.minPerSecond*budgetWindow {
		return false
	}
	b.slot(sec).retries++
	return true
}

// place moves the pending request counts into the window, spread evenly
// over the time since the last placement (the part within the window).
func (b *Budget) place(now time.Duration) {
	var n int64
	for i := range b.pending {
		n += b.pending[i].n.Swap(0)
	}
	from := b.placed
	b.placed = now
	if n == 0 {
		return
	}
	span := now - from
	if span <= 0 {
		b.slot(int64(now / time.Second)).requests += float64(n)
		return
	}
	lo := max(from, now-budgetWindow*time.Second)
	for sec := int64(lo / time.Second); sec <= int64(now/time.Second); sec++ {
		start := max(lo, time.Duration(sec)*time.Second)
		end := min(now, time.Duration(sec+1)*time.Second)
		if end > start {
			b.slot(sec).requests += float64(n) * float64(end-start) / float64(span)
		}
	}
}

// slot returns the slot for sec, recycling the one that held the second
// a window earlier.
func (b *Budget) slot(sec int64) *budgetSlot {
	s := &b.slots[uint64(sec)%budgetWindow]
	if s.sec != sec {
		*s = budgetSlot{sec: sec}
	}
	return s
}
