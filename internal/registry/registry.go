// Package registry is the process-wide list of named components (breakers,
// rate-limit policies, caches, retry budgets, overload limits, audit
// emitters, idempotency stores, fault injectors) that the status package
// renders. A component adds itself when it is built with a name; the
// registry holds it weakly, so a component that is no longer reachable
// drops out on its own and registering never keeps anything alive.
//
// Nothing here runs on a request's path: a component's report function is
// called only when the status page asks, and reads the component's state
// the way its own accessors do (atomics, or a lock held briefly).
package registry

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Kinds of component, the kind field of every Component.
const (
	KindBreaker     = "breaker"
	KindRateLimit   = "ratelimit"
	KindCache       = "cache"
	KindRetry       = "retry"
	KindOverload    = "overload"
	KindAudit       = "audit"
	KindIdempotency = "idempotency"
	KindFaults      = "faults"
)

// Health values of Component.Health: how the status page colours a row.
const (
	HealthOK   = "ok"   // working normally
	HealthWarn = "warn" // degraded but serving: half-open, limiting, shedding, dropping
	HealthBad  = "bad"  // refusing work: open, failing sink, dead store
)

// Component is one row of the status page: one breaker (one per key in a
// keyed registry), one rate-limit policy, one cache, and so on.
type Component struct {
	Kind   string  `json:"kind"`
	Name   string  `json:"name"`
	Key    string  `json:"key,omitempty"`  // a breaker's key within a keyed registry
	State  string  `json:"state"`          // a short word: closed, open, half_open, ok, limiting, shedding, ...
	Health string  `json:"health"`         // HealthOK, HealthWarn or HealthBad
	Value  float64 `json:"value"`          // the number the page charts over time
	Unit   string  `json:"unit,omitempty"` // what Value is: "failure rate", "rejections/min", ...
	Stats  any     `json:"stats,omitempty"`
}

// Report appends a component's rows to dst and returns it. It is called
// from the status handler's goroutine, never on a request path, and must
// not block on I/O.
type report func(dst []Component) []Component

type entry struct {
	id     uint64
	kind   string
	name   string
	report report
}

var (
	mu      sync.Mutex
	entries []*entry
	nextID  uint64
	off     atomic.Bool
)

// Handle is a registration; Remove takes it out early (on Close). A nil
// *Handle is valid and does nothing.
type Handle struct{ id uint64 }

// Remove unregisters the component. It is safe to call more than once.
func (h *Handle) Remove() {
	if h == nil {
		return
	}
	remove(h.id)
}

// Add registers c under kind and name, if name is not empty and
// registration is on. The registry holds c weakly: once c is unreachable
// its entry disappears. fn reports c's rows; it must not keep c reachable
// by itself (use its argument, not a captured c).
func Add[T any](kind, name string, c *T, fn func(c *T, dst []Component) []Component) *Handle {
	if name == "" || c == nil || off.Load() {
		return nil
	}
	wp := weak.Make(c)
	e := &entry{kind: kind, name: name, report: func(dst []Component) []Component {
		p := wp.Value()
		if p == nil {
			return dst
		}
		return fn(p, dst)
	}}
	mu.Lock()
	nextID++
	e.id = nextID
	entries = append(entries, e)
	mu.Unlock()
	runtime.AddCleanup(c, remove, e.id)
	return &Handle{id: e.id}
}

func remove(id uint64) {
	mu.Lock()
	defer mu.Unlock()
	entries = slices.DeleteFunc(entries, func(e *entry) bool { return e.id == id })
}

// SetEnabled turns registration on (the default) or off. Off, components
// built afterwards are not registered, and Snapshot reports none.
func SetEnabled(on bool) { off.Store(!on) }

// Enabled reports whether registration is on.
func Enabled() bool { return !off.Load() }

// Snapshot reports every registered component, ordered by kind, then
// name, then key, then registration order. Reports run without the
// registry's lock held.
func Snapshot() []Component {
	if off.Load() {
		return nil
	}
	mu.Lock()
	list := slices.Clone(entries)
	mu.Unlock()
	var out []Component
	for _, e := range list {
		out = e.report(out)
	}
	slices.SortStableFunc(out, func(a, b Component) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// PerMinute turns a running total into a rate per minute over the last
// minute, from the totals it is shown at each report. Components keep one
// beside the counter they report; Observe is called only when reporting.
// The zero value starts counting at the first Observe; NewPerMinute starts
// at the component's construction.
type PerMinute struct {
	mu      sync.Mutex
	samples []sample // oldest first, spanning at most a little over a minute
}

type sample struct {
	at    time.Time
	total uint64
}

// NewPerMinute returns a PerMinute whose first sample is a zero total at
// now, the construction of the component it belongs to.
func NewPerMinute(now time.Time) *PerMinute {
	return &PerMinute{samples: []sample{{at: now}}}
}

// Observe records total at now and returns the rate per minute since the
// oldest sample within the last minute (or since the first sample, when
// the samples span less than a minute). A total lower than the last one
// (a counter reset) restarts the samples.
func (p *PerMinute) Observe(now time.Time, total uint64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.samples); n > 0 && total < p.samples[n-1].total {
		p.samples = p.samples[:0]
	}
	p.samples = append(p.samples, sample{at: now, total: total})
	// Keep as the baseline the newest sample that is at least a minute
	// old, and drop the ones before it.
	cut := 0
	for i := 0; i+1 < len(p.samples) && !p.samples[i+1].at.After(now.Add(-time.Minute)); i++ {
		cut = i + 1
	}
	p.samples = p.samples[cut:]
	first := p.samples[0]
	d := now.Sub(first.at)
	if d <= 0 {
		return 0
	}
	return float64(total-first.total) / d.Minutes()
}
