package overload

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/internal/otelx"
)

// gate admits calls while fewer than a class's threshold are in flight,
// queues a bounded number of the others and sheds the rest. Admission
// under the threshold with nobody queued is one compare-and-swap.
type gate struct {
	inflight atomic.Int64
	_        [56]byte        // inflight is written on every call: alone on its cache line
	waiting  atomic.Int64    // len of every queue, for the lock-free paths
	thr      [3]atomic.Int64 // per class index: admitted while inflight < thr
	limit    atomic.Int64    // the concurrency limit (critical's threshold)
	shares   [3]float64      // per class index: share of the limit
	shed     [3]*ShedError   // per class index, shared
	counter  *otelx.OverloadCounter
	gauge    *otelx.Gauge
	name     string
	dryRun   bool
	lifo     bool
	maxQueue int
	maxWait  time.Duration // 0: only the context bounds a wait
	logger   *slog.Logger  // nil: slog.Default()

	dryLogAt   atomic.Int64 // nanotime of the last dry-run line
	suppressed atomic.Int64 // dry-run lines not logged since

	sheds   *shedCounters // calls shed, for the status page: &ownShed, or a registry's
	ownShed shedCounters

	mu     sync.Mutex
	queue  [3][]*waiter // per class index; oldest first
	queued int
}

// waiter is one queued call. ready receives once, when the call is granted
// a slot or evicted; granted and evicted are guarded by gate.mu.
type waiter struct {
	ready   chan struct{}
	granted bool
	evicted bool
}

func (g *gate) init(c *config, name string, limit int64, shares [3]float64, lifo bool, queue int, maxWait, retryAfter time.Duration) error {
	g.name, g.shares, g.lifo, g.maxQueue, g.maxWait = name, shares, lifo, queue, maxWait
	g.dryRun, g.logger = c.dryRun, c.logger
	for i := range g.shed {
		g.shed[i] = &ShedError{Name: name, Class: Class(i - 1), RetryAfter: retryAfter}
	}
	if g.sheds == nil {
		g.sheds = &g.ownShed
	}
	if g.counter != nil { // shared with a registry: no gauge per key
		g.setLimit(limit)
		return nil
	}
	var err error
	if g.counter, err = otelx.OverloadDecisions(c.meterProvider, name); err != nil {
		return err
	}
	if g.gauge, err = otelx.OverloadLimit(c.meterProvider, name); err != nil {
		return err
	}
	g.setLimit(limit)
	return nil
}

func (g *gate) log() *slog.Logger {
	if g.logger != nil {
		return g.logger
	}
	return slog.Default()
}

// setLimit sets the limit and the class thresholds, and admits queued
// calls the new limit has room for.
func (g *gate) setLimit(limit int64) {
	g.limit.Store(limit)
	for i, s := range g.shares {
		t := int64(float64(limit) * s)
		if s >= 1 {
			t = limit
		}
		g.thr[i].Store(max(t, 1))
	}
	g.gauge.Record(context.Background(), limit)
	if g.waiting.Load() > 0 {
		g.mu.Lock()
		g.dispatchLocked()
		g.mu.Unlock()
	}
}

// tryAcquire takes a slot if fewer than class ci's threshold are in flight.
func (g *gate) tryAcquire(ci int) bool {
	thr := &g.thr[ci]
	for {
		n := g.inflight.Load()
		if n >= thr.Load() {
			return false
		}
		if g.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire takes a slot for a call of class ci, waiting in the queue when
// there is one. It returns nil with a slot held, a *ShedError, or the
// context's error.
func (g *gate) acquire(ctx context.Context, ci int) error {
	if g.waiting.Load() == 0 && g.tryAcquire(ci) {
		g.counter.Add(ctx, ci, otelx.OverloadAdmitted)
		return nil
	}
	return g.acquireSlow(ctx, ci)
}

func (g *gate) acquireSlow(ctx context.Context, ci int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if !g.queuedAtOrAbove(ci) && g.tryAcquire(ci) {
		g.mu.Unlock()
		g.counter.Add(ctx, ci, otelx.OverloadAdmitted)
		return nil
	}
	if g.dryRun {
		g.inflight.Add(1)
		g.mu.Unlock()
		g.sheds[ci].Add(1)
		g.counter.Add(ctx, ci, otelx.OverloadShed)
		otelx.AddEvent(ctx, otelx.EventOverloadShed, attribute.Bool("paved.overload.dry_run", true))
		g.logDryRun(ctx, ci)
		return nil
	}
	if g.maxQueue == 0 || (g.queued >= g.maxQueue && !g.evictLocked(ci)) {
		g.mu.Unlock()
		return g.reject(ctx, ci)
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	g.queue[ci] = append(g.queue[ci], w)
	g.queued++
	g.waiting.Add(1)
	g.dispatchLocked() // a slot may have been freed before waiting was raised
	g.mu.Unlock()
	g.counter.Add(ctx, ci, otelx.OverloadQueued)

	var expired <-chan time.Time
	if g.maxWait > 0 {
		t := time.NewTimer(g.maxWait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case <-w.ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = g.shed[ci]
	}
	g.mu.Lock()
	granted, evicted := w.granted, w.evicted
	if !granted && !evicted {
		g.removeLocked(ci, w)
	}
	g.mu.Unlock()
	switch {
	case evicted:
		return g.reject(ctx, ci)
	case granted && err == nil:
		g.counter.Add(ctx, ci, otelx.OverloadAdmitted)
		return nil
	case granted:
		g.release() // granted as the wait ended: give the slot back
	}
	if err == g.shed[ci] {
		return g.reject(ctx, ci)
	}
	return err
}

func (g *gate) reject(ctx context.Context, ci int) error {
	g.sheds[ci].Add(1)
	g.counter.Add(ctx, ci, otelx.OverloadShed)
	otelx.AddEvent(ctx, otelx.EventOverloadShed)
	if l := g.log(); l.Enabled(ctx, slog.LevelDebug) {
		l.LogAttrs(ctx, slog.LevelDebug, "overload: shed",
			slog.String("name", g.name), slog.String("class", Class(ci-1).String()))
	}
	return g.shed[ci]
}

// queuedAtOrAbove reports whether a call of class ci or higher is queued.
func (g *gate) queuedAtOrAbove(ci int) bool {
	for i := ci; i < len(g.queue); i++ {
		if len(g.queue[i]) > 0 {
			return true
		}
	}
	return false
}

// evictLocked makes room in a full LIFO queue for a call of class ci by
// shedding the oldest queued call of the lowest class not above ci. It
// reports whether it made room; a FIFO queue never evicts.
func (g *gate) evictLocked(ci int) bool {
	if !g.lifo {
		return false
	}
	for i := 0; i <= ci; i++ {
		if q := g.queue[i]; len(q) > 0 {
			w := q[0]
			copy(q, q[1:])
			q[len(q)-1] = nil
			g.queue[i] = q[:len(q)-1]
			g.queued--
			g.waiting.Add(-1)
			w.evicted = true
			w.ready <- struct{}{}
			return true
		}
	}
	return false
}

// removeLocked takes w, which gave up waiting, out of its queue.
func (g *gate) removeLocked(ci int, w *waiter) {
	q := g.queue[ci]
	for i, x := range q {
		if x == w {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			g.queue[ci] = q[:len(q)-1]
			g.queued--
			g.waiting.Add(-1)
			return
		}
	}
}

// dispatchLocked grants slots to queued calls, highest class first and,
// within a class, newest first (LIFO) or oldest first (FIFO), while the
// thresholds allow.
func (g *gate) dispatchLocked() {
	for g.queued > 0 {
		ci := len(g.queue) - 1
		for len(g.queue[ci]) == 0 {
			ci--
		}
		if !g.tryAcquire(ci) {
			return
		}
		q := g.queue[ci]
		var w *waiter
		if g.lifo {
			w = q[len(q)-1]
			q[len(q)-1] = nil
			g.queue[ci] = q[:len(q)-1]
		} else {
			w = q[0]
			copy(q, q[1:])
			q[len(q)-1] = nil
			g.queue[ci] = q[:len(q)-1]
		}
		g.queued--
		g.waiting.Add(-1)
		w.granted = true
		w.ready <- struct{}{}
	}
}

// release frees a slot and hands it to a queued call, if any.
func (g *gate) release() {
	g.inflight.Add(-1)
	if g.waiting.Load() > 0 {
		g.mu.Lock()
		g.dispatchLocked()
		g.mu.Unlock()
	}
}

// logDryRun logs a call the gate would have shed, at most once a second,
// with the number of lines suppressed since the last one.
func (g *gate) logDryRun(ctx context.Context, ci int) {
	now, last := nanotime(), g.dryLogAt.Load()
	if last != 0 && now-last < int64(time.Second) || !g.dryLogAt.CompareAndSwap(last, now) {
		g.suppressed.Add(1)
		return
	}
	g.log().LogAttrs(ctx, slog.LevelInfo, "overload: would shed (dry run)",
		slog.String("name", g.name), slog.String("class", Class(ci-1).String()),
		slog.Int64("suppressed", g.suppressed.Swap(0)))
}
