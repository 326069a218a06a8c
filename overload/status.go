package overload

import (
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// Report is the Stats of a Limiter's, Bulkhead's or Bulkheads' row on
// the status page (registry.KindOverload), read from its own atomics (and
// briefly under its lock) when the page asks.
type Report struct {
	// Type is "limiter", "bulkhead" or "bulkheads".
	Type string `json:"type"`
	// Limit is the concurrency limit now: a Limiter's adaptive limit, a
	// bulkhead's cap (each one's, for Bulkheads).
	Limit int64 `json:"limit"`
	// InFlight and Queued are the calls admitted and not done, and the
	// calls waiting for a slot (over every bulkhead of a Bulkheads,
	// the overflow one included), out of MaxQueue (per bulkhead).
	InFlight int64 `json:"in_flight"`
	Queued   int64 `json:"queued"`
	MaxQueue int   `json:"max_queue"`
	// Shed counts the calls shed since it was built, per class (a
	// bulkhead's calls are all of class Default); in dry run, the calls
	// that would have been. ShedPerMin is their rate over the last
	// minute, the row's Value.
	Shed       ShedCounts `json:"shed"`
	ShedPerMin float64    `json:"shed_per_min"`
	DryRun     bool       `json:"dry_run,omitempty"`
	// A Limiter's algorithm, bounds and last no-load round-trip time.
	Algorithm string  `json:"algorithm,omitempty"`
	MinLimit  int     `json:"min_limit,omitempty"`
	MaxLimit  int     `json:"max_limit,omitempty"`
	MinRTTMs  float64 `json:"min_rtt_ms,omitempty"`
	// A Bulkheads' keys holding a bulkhead, out of MaxKeys, and the
	// calls in flight on the overflow bulkhead that keys share while
	// every held one is busy.
	Keys             int   `json:"keys,omitempty"`
	MaxKeys          int   `json:"max_keys,omitempty"`
	OverflowInFlight int64 `json:"overflow_in_flight,omitempty"`
}

// ShedCounts are calls shed, per Class.
type ShedCounts struct {
	Critical  uint64 `json:"critical"`
	Default   uint64 `json:"default"`
	Sheddable uint64 `json:"sheddable"`
}

// Total returns the calls shed of every class.
func (s ShedCounts) Total() uint64 { return s.Critical + s.Default + s.Sheddable }

// ThrottleReport is the Stats of a Throttle's row on the status page
// (registry.KindOverload), read under its lock when the page asks.
type ThrottleReport struct {
	Type string `json:"type"` // "throttle"
	// Probability is the chance the next request is rejected locally,
	// the row's Value.
	Probability float64 `json:"probability"`
	// Requests and Accepts are the window's counts.
	Requests      int64   `json:"requests"`
	Accepts       int64   `json:"accepts"`
	K             float64 `json:"k"`
	WindowSeconds float64 `json:"window_seconds"`
	// Throttled counts the requests rejected locally since it was built;
	// ThrottledPerMin is their rate over the last minute.
	Throttled       uint64  `json:"throttled"`
	ThrottledPerMin float64 `json:"throttled_per_min"`
}

// shedCounters count a gate's shed calls per class index; a Bulkheads'
// bulkheads share their registry's.
type shedCounters [3]atomic.Uint64

func (c *shedCounters) load() ShedCounts {
	return ShedCounts{Critical: c[2].Load(), Default: c[1].Load(), Sheddable: c[0].Load()}
}

// shedRow fills in row's Value, State and Health from r, with the rate
// from pm.
func shedRow(row registry.Component, r *Report, pm *registry.PerMinute) registry.Component {
	r.ShedPerMin = pm.Observe(time.Now(), r.Shed.Total())
	row.Kind, row.Value, row.Unit = registry.KindOverload, r.ShedPerMin, "shed/min"
	row.State, row.Health = "ok", registry.HealthOK
	switch {
	case r.ShedPerMin > 0:
		row.State, row.Health = "shedding", registry.HealthWarn
	case r.Queued > 0:
		row.State = "queueing"
	}
	row.Stats = *r
	return row
}

func newPerMinute() *registry.PerMinute { return registry.NewPerMinute(time.Now()) }

func (l *Limiter) register() {
	if registry.Enabled() {
		l.shedRate = newPerMinute()
		registry.Add(registry.KindOverload, l.g.name, l, (*Limiter).report)
	}
}

func (l *Limiter) report(dst []registry.Component) []registry.Component {
	r := Report{
		Type: "limiter", Limit: l.g.limit.Load(), InFlight: l.g.inflight.Load(), Queued: l.g.waiting.Load(),
		MaxQueue: l.g.maxQueue, Shed: l.g.sheds.load(), DryRun: l.g.dryRun,
		Algorithm: l.cfg.algorithm.String(), MinLimit: l.cfg.minLimit, MaxLimit: l.cfg.maxLimit,
		MinRTTMs: float64(l.MinRTT()) / float64(time.Millisecond),
	}
	return append(dst, shedRow(registry.Component{Name: l.g.name}, &r, l.shedRate))
}

func (b *Bulkhead) register() {
	if registry.Enabled() {
		b.shedRate = newPerMinute()
		registry.Add(registry.KindOverload, b.g.name, b, (*Bulkhead).report)
	}
}

func (b *Bulkhead) report(dst []registry.Component) []registry.Component {
	r := Report{
		Type: "bulkhead", Limit: b.g.limit.Load(), InFlight: b.g.inflight.Load(), Queued: b.g.waiting.Load(),
		MaxQueue: b.g.maxQueue, Shed: b.g.sheds.load(), DryRun: b.g.dryRun,
	}
	return append(dst, shedRow(registry.Component{Name: b.g.name}, &r, b.shedRate))
}

func (r *Bulkheads) register() {
	if registry.Enabled() {
		r.shedRate = newPerMinute()
		registry.Add(registry.KindOverload, r.name, r, (*Bulkheads).report)
	}
}

// report sums the held bulkheads from the lock-free map, so that it
// never holds up a new key's Get.
func (r *Bulkheads) report(dst []registry.Component) []registry.Component {
	rep := Report{
		Type: "bulkheads", Limit: int64(r.cap), MaxQueue: r.cfg.queue, Shed: r.metrics.sheds.load(),
		DryRun: r.cfg.dryRun, MaxKeys: r.cfg.bulkhead.maxKeys,
		OverflowInFlight: r.overflow.g.inflight.Load(),
	}
	rep.InFlight, rep.Queued = rep.OverflowInFlight, r.overflow.g.waiting.Load()
	r.m.Range(func(_, v any) bool {
		b := v.(*Bulkhead)
		rep.Keys++
		rep.InFlight += b.g.inflight.Load()
		rep.Queued += b.g.waiting.Load()
		return true
	})
	return append(dst, shedRow(registry.Component{Name: r.name}, &rep, r.shedRate))
}

func (t *Throttle) register() {
	if t.name != "" && registry.Enabled() {
		t.throttledRate = newPerMinute()
		registry.Add(registry.KindOverload, t.name, t, (*Throttle).report)
	}
}

func (t *Throttle) report(dst []registry.Component) []registry.Component {
	now := time.Now()
	t.mu.Lock()
	t.advance(now.UnixNano())
	r := ThrottleReport{Type: "throttle", Probability: t.probability(), Requests: t.requests, Accepts: t.accepts, K: t.k,
		WindowSeconds: time.Duration(t.width * throttleBuckets).Seconds()}
	t.mu.Unlock()
	r.Throttled = t.throttled.Load()
	r.ThrottledPerMin = t.throttledRate.Observe(now, r.Throttled)
	row := registry.Component{Kind: registry.KindOverload, Name: t.name, State: "ok", Health: registry.HealthOK,
		Value: r.Probability, Unit: "rejection ratio", Stats: r}
	if r.Probability > 0 {
		row.State, row.Health = "throttling", registry.HealthWarn
	}
	return append(dst, row)
}
