package retry

import (
	"fmt"
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
// Counting is lock-free and approximate at bucket boundaries under
// contention (a count may land in the bucket being recycled), which errs
// by a request or two per second.
type Budget struct {
	ratio        float64
	minPerSecond float64
	// base anchors the bucket clock: time.Since reads only the monotonic
	// clock, about half the cost of time.Now on the success path.
	base    time.Time
	buckets [budgetWindow]budgetBucket
}

const budgetWindow = 10 // seconds, one bucket each

type budgetBucket struct {
	sec      atomic.Int64 // second (since base) this bucket counts
	requests atomic.Int64
	retries  atomic.Int64
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
	for i := range b.buckets {
		b.buckets[i].sec.Store(-budgetWindow) // outside any window
	}
	return b, nil
}

func (b *Budget) now() int64 { return int64(time.Since(b.base) / time.Second) }

func (b *Budget) bucket(sec int64) *budgetBucket {
	bk := &b.buckets[uint64(sec)%budgetWindow]
	if s := bk.sec.Load(); s != sec && bk.sec.CompareAndSwap(s, sec) {
		bk.requests.Store(0)
		bk.retries.Store(0)
	}
	return bk
}

// request records a first attempt.
func (b *Budget) request() {
	if b != nil {
		b.bucket(b.now()).requests.Add(1)
	}
}

// withdraw takes one retry from the budget and reports whether there was
// room for it.
func (b *Budget) withdraw() bool {
	if b == nil {
		return true
	}
	sec := b.now()
	var requests, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if s := bk.sec.Load(); s > sec-budgetWindow && s <= sec {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	allowed := b.ratio*float64(requests) + b.minPerSecond*budgetWindow
	if float64(retries)+1 > allowed {
		return false
	}
	b.bucket(sec).retries.Add(1)
	return true
}
