package breaker

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// StatusRows is how many keys of a Registry the status page shows,
// chosen so that every breaker that is not closed is among them (then
// closed ones, by key). The registry's summary row says how many were
// left out; the page lists the rows shown by key.
const StatusRows = 200

// Status is what a breaker reports to the status page (the stats of its
// row in status.json). The row's value is the failure rate of the calls
// in the window, and 1 while the breaker is open (every call fails fast);
// its health is ok while closed, warn while half-open (or open in dry-run
// mode, which lets calls through), and bad while open. Reading it takes no lock a call waits on for
// longer than the call itself would, and runs no callback.
type Status struct {
	// Calls and Failures are the calls with an outcome in the window the
	// trip rule looks at (the count or time window while closed, the
	// probes while half-open) and how many of them failed or were slow.
	Calls    int `json:"calls"`
	Failures int `json:"failures"`
	// ConsecutiveFailures is the latest run of failures since the last
	// state change.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// HalfOpenIn is the time, in seconds, until an open breaker lets
	// probes through; 0 unless open.
	HalfOpenIn float64 `json:"half_open_in_seconds"`
	// FailureThreshold is the failure rate that opens the breaker (0 when
	// it trips on consecutive failures), and MinCalls the calls its window
	// must hold first.
	FailureThreshold float64 `json:"failure_threshold,omitempty"`
	MinCalls         int     `json:"min_calls,omitempty"`
	// DryRun is set when the breaker only reports what it would reject.
	DryRun bool `json:"dry_run,omitempty"`
}

// RegistryStatus is the stats of a Registry's summary row: the row with
// the registry's name and no key, beside one row per key. The row's state
// is open when a key is open (health bad when every key is, warn
// otherwise), half_open when one is half-open, and closed otherwise; its
// value is the number of keys not closed.
type RegistryStatus struct {
	Keys     int `json:"keys"`      // breakers held, parked ones included
	Open     int `json:"open"`      // of which open
	HalfOpen int `json:"half_open"` // of which half-open
	Shown    int `json:"shown"`     // rows with a key in this report
	Omitted  int `json:"omitted"`   // keys left out (at most StatusRows are shown)
}

// WithName names a Registry on the status page (package status): its
// summary row and the rows of its keys carry this name. A Registry built
// without one is not listed. Registry only.
func WithName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.fail(errors.New("breaker: WithName: empty name"))
			return
		}
		c.name = name
		c.registryOnly("WithName")
	})
}

func (b *Breaker) register() {
	registry.Add(registry.KindBreaker, b.name, b, func(b *Breaker, dst []registry.Component) []registry.Component {
		return append(dst, b.component(b.name, "", time.Now()))
	})
}

func (r *Registry) register() {
	registry.Add(registry.KindBreaker, r.cfg.name, r, (*Registry).components)
}

// status reads b's state from its atomics (and, for a time window,
// gobreaker's counts under its mutex, as a call does), without delivering
// transitions: the status page must not run a user's callbacks.
func (b *Breaker) status(now time.Time) (State, Status) {
	st := State(b.state.Load())
	var s Status
	if st == StateOpen {
		if o := b.open.Load(); o != nil && now.Before(o.until) {
			s.HalfOpenIn = o.until.Sub(now).Seconds()
		} else {
			st = StateHalfOpen
		}
	}
	if b.window != nil && st == StateClosed {
		s.Calls, s.Failures = b.window.counts()
		s.ConsecutiveFailures = int(b.cb.Counts().ConsecutiveFailures)
	} else if st != StateOpen {
		if b.cfg.timeWindow > 0 {
			b.cb.State() // rolls the time buckets forward; queues, never reports
		}
		c := b.cb.Counts()
		s.Calls = int(c.TotalSuccesses + c.TotalFailures)
		s.Failures = int(c.TotalFailures)
		s.ConsecutiveFailures = int(c.ConsecutiveFailures)
	}
	if b.cfg.consecutive == 0 {
		s.FailureThreshold, s.MinCalls = b.cfg.rate, b.cfg.minCalls
	}
	s.DryRun = b.cfg.dryRun
	return st, s
}

func (b *Breaker) component(name, key string, now time.Time) registry.Component {
	st, s := b.status(now)
	c := registry.Component{
		Kind:   registry.KindBreaker,
		Name:   name,
		Key:    key,
		State:  st.String(),
		Health: registry.HealthOK,
		Unit:   "failure rate",
		Stats:  s,
	}
	switch {
	case st == StateOpen:
		c.Value = 1 // every call fails fast; the window restarts on half-open
	case s.Calls > 0:
		c.Value = float64(s.Failures) / float64(s.Calls)
	}
	switch {
	case st == StateHalfOpen, st == StateOpen && s.DryRun:
		c.Health = registry.HealthWarn
	case st == StateOpen:
		c.Health = registry.HealthBad
	}
	return c
}

// components reports a summary row, then one row per key, StatusRows at
// most: every breaker that is not closed, then closed ones by key.
func (r *Registry) components(dst []registry.Component) []registry.Component {
	now := time.Now()
	var rows []registry.Component
	var sum RegistryStatus
	r.m.Range(func(k, v any) bool {
		c := v.(*entry).b.component(r.cfg.name, k.(string), now)
		sum.Keys++
		switch c.State {
		case "open":
			sum.Open++
		case "half_open":
			sum.HalfOpen++
		}
		rows = append(rows, c)
		return true
	})
	slices.SortFunc(rows, func(a, b registry.Component) int {
		return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(a.Key, b.Key))
	})
	if len(rows) > StatusRows {
		sum.Omitted = len(rows) - StatusRows
		rows = rows[:StatusRows]
	}
	sum.Shown = len(rows)
	head := registry.Component{
		Kind:   registry.KindBreaker,
		Name:   r.cfg.name,
		State:  "closed",
		Health: registry.HealthOK,
		Value:  float64(sum.Open + sum.HalfOpen),
		Unit:   "keys not closed",
		Stats:  sum,
	}
	switch {
	case sum.Open > 0 && sum.Open == sum.Keys:
		head.State, head.Health = "open", registry.HealthBad
	case sum.Open > 0:
		head.State, head.Health = "open", registry.HealthWarn // some keys still serve
	case sum.HalfOpen > 0:
		head.State, head.Health = "half_open", registry.HealthWarn
	}
	dst = append(dst, head)
	return append(dst, rows...)
}

// rank orders rows for the cap: open, then half-open, then closed.
func rank(state string) int {
	switch state {
	case "open":
		return 0
	case "half_open":
		return 1
	}
	return 2
}
