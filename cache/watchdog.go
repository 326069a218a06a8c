package cache

import (
	"sync"
	"time"
)

// A watchdog times a cache's running loads out with one timer, rather than
// one timer per load: a timer costs a miss an allocation and more time
// than the rest of the flight's bookkeeping, for a timeout that almost
// never fires. Loads are kept in order of their deadlines (the load
// timeout is the same for every load of a cache, so a new load goes at the
// tail) and the timer is set for the earliest one. A load that completes
// leaves the list; the timer is not moved for it, and when it fires
// before the new earliest deadline it is set again for that one. A miss
// on an idle cache therefore resets the timer only when it is not set
// already, about once per load timeout.
type watchdog struct {
	mu         sync.Mutex
	now        func() time.Time
	timer      *time.Timer
	armed      bool      // the timer is set to fire
	at         time.Time // when, if armed
	head, tail *watched
}

// watched is a load's place in its cache's watchdog.
type watched struct {
	prev, next *watched
	deadline   time.Time
	listed     bool
	load       interface{ timedOut() } // the flight
}

// init creates the (stopped) timer in the creator's goroutine, so that a
// cache made in a testing/synctest bubble times its loads out in the
// bubble's time.
func (w *watchdog) init(now func() time.Time) {
	w.now = now
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
}

// watch adds l, whose deadline is set, to the loads timed out.
func (w *watchdog) watch(l *watched) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := w.tail
	for at != nil && at.deadline.After(l.deadline) { // a load started a moment earlier got the lock later
		at = at.prev
	}
	l.prev, l.listed = at, true
	if at == nil {
		l.next, w.head = w.head, l
	} else {
		l.next, at.next = at.next, l
	}
	if l.next == nil {
		w.tail = l
	} else {
		l.next.prev = l
	}
	if !w.armed || l.deadline.Before(w.at) { // idle, or set for later than l is due
		w.arm(l.deadline, w.now())
	}
}

// unwatch removes l, whose load completed.
func (w *watchdog) unwatch(l *watched) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !l.listed {
		return
	}
	l.listed = false
	if l.prev == nil {
		w.head = l.next
	} else {
		l.prev.next = l.next
	}
	if l.next == nil {
		w.tail = l.prev
	} else {
		l.next.prev = l.prev
	}
	l.prev, l.next = nil, nil
}

// arm sets the timer to fire at at. w.mu must be held.
func (w *watchdog) arm(at, now time.Time) {
	w.armed, w.at = true, at
	w.timer.Reset(at.Sub(now))
}

// fire times out the loads whose deadline passed and sets the timer for
// the next one. It runs in the timer's goroutine.
func (w *watchdog) fire() {
	w.mu.Lock()
	now := w.now()
	var due []interface{ timedOut() }
	for w.head != nil && !now.Before(w.head.deadline) {
		l := w.head
		due = append(due, l.load)
		w.head, l.listed, l.next = l.next, false, nil
		if w.head == nil {
			w.tail = nil
		} else {
			w.head.prev = nil
		}
	}
	if w.head != nil {
		w.arm(w.head.deadline, now)
	} else {
		w.armed = false
	}
	w.mu.Unlock()
	for _, f := range due {
		f.timedOut()
	}
}
