package breaker

import (
	"context"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is the state of a breaker.
type State int

// The states of a breaker. A closed breaker lets calls through and counts
// their outcomes; an open one rejects them; a half-open one lets a few
// probe calls through to decide between the two.
const (
	StateClosed State = iota
	StateOpen
	StateHalfOpen
)

// String returns "closed", "open" or "half_open", the values of the state
// attribute of paved.breaker.state.
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	}
	return "unknown"
}

func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateClosed
}

// transition is one state change waiting to be reported.
type transition struct {
	from, to State
	openFor  time.Duration // when to is StateOpen
	counts   Counts        // the window that tripped a closed breaker
	shared   bool          // read from the shared store: made elsewhere, counts unknown
}

// onTransition is gobreaker's OnStateChange hook. gobreaker calls it with
// its mutex held, so it only records and queues: the user's callback, the
// log line run later, from flush, outside every lock.
func (b *Breaker) onTransition(_ string, from, to gobreaker.State) {
	tr := transition{from: fromGobreaker(from), to: fromGobreaker(to)}
	switch tr.to {
	case StateOpen:
		if tr.from == StateHalfOpen {
			b.reopens++
		}
		tr.openFor = b.cfg.openDuration(b.reopens)
		b.open.Store(&openState{until: time.Now().Add(tr.openFor)})
		if tr.from == StateClosed {
			tr.counts = b.tripped
		}
	case StateClosed:
		b.reopens = 0
		b.open.Store(nil)
	default:
		b.open.Store(nil)
	}
	if b.window != nil {
		b.window.reset()
	}
	b.state.Store(int32(tr.to))
	b.nmu.Lock()
	b.queue = append(b.queue, tr)
	b.pending.Store(true)
	b.nmu.Unlock()
}

// flush reports queued transitions in order. One goroutine reports at a
// time; another that finds it busy leaves its transitions to it, so a
// callback that calls the breaker cannot deadlock.
func (b *Breaker) flush(ctx context.Context) {
	b.nmu.Lock()
	if b.dispatching {
		b.nmu.Unlock()
		return
	}
	b.dispatching = true
	var rest []transition // taken from the queue, not yet reported
	done := false
	defer func() {
		if !done { // a callback panicked: the next call reports the rest
			b.nmu.Lock()
			b.queue = append(rest, b.queue...)
			b.dispatching = false
			b.pending.Store(len(b.queue) > 0)
			b.nmu.Unlock()
		}
	}()
	for {
		if len(b.queue) == 0 {
			// Done, under the lock that saw the queue empty: a transition
			// queued after this finds no dispatcher and is flushed by its
			// own call.
			b.dispatching = false
			b.nmu.Unlock()
			done = true
			return
		}
		rest, b.queue = b.queue, nil
		b.pending.Store(false)
		b.nmu.Unlock()
		for len(rest) > 0 {
			tr := rest[0]
			rest = rest[1:]
			b.report(ctx, tr)
		}
		b.nmu.Lock()
	}
}

var transitionMessages = [...]string{
	StateClosed:   "breaker closed",
	StateOpen:     "breaker opened",
	StateHalfOpen: "breaker half-open",
}

// report logs one transition at Warn and calls the user's callback.
func (b *Breaker) report(ctx context.Context, tr transition) {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("breaker", b.name),
		slog.String("from", tr.from.String()),
		slog.String("to", tr.to.String()))
	if tr.to == StateOpen {
		attrs = append(attrs, slog.Duration("open_for", tr.openFor))
		if tr.from == StateClosed && !tr.shared {
			attrs = append(attrs,
				slog.Int("calls", tr.counts.Calls),
				slog.Int("failures", tr.counts.Failures),
				slog.Int("consecutive_failures", tr.counts.ConsecutiveFailures))
		}
	}
	if tr.shared {
		attrs = append(attrs, slog.Bool("shared", true))
	}
	if b.cfg.dryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	b.cfg.log().LogAttrs(ctx, slog.LevelWarn, transitionMessages[tr.to], attrs...)
	if fn := b.cfg.onStateChange; fn != nil {
		fn(b.name, tr.from, tr.to)
	}
}
