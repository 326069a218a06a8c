package ratelimit

import (
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// PolicyReport is the Stats of a policy's row on the status page
// (registry.KindRateLimit): one row per Enforcer, whether built by
// NewEnforcer, by NewPolicies (one per policy it limits, the route
// pattern as the row's key) or by ratelimitgrpc. It is read from the
// policy's own state when the page asks, never on a request's path.
type PolicyReport struct {
	// Limiter is the kind of limiter holding the buckets: "keyed" (a
	// *Keyed), "single" (a *Limiter) or "external" (any other Decider,
	// such as one on Redis, whose keys are not known here).
	Limiter string `json:"limiter"`
	// Limit is the refill rate in tokens per second, Burst the bucket size.
	Limit float64 `json:"limit"`
	Burst int     `json:"burst"`
	// Keys is the number of keys holding a bucket of their own, out of
	// MaxKeys (a Keyed only).
	Keys    int `json:"keys"`
	MaxKeys int `json:"max_keys,omitempty"`
	// Overflows counts the decisions made on a Keyed's shared overflow
	// bucket since it was built (Keyed.Overflows); OverflowPerMin is their
	// rate over the last minute. OverflowInUse is true while it is above
	// zero: the store is full of limited keys and new keys share one
	// bucket.
	Overflows      uint64  `json:"overflows"`
	OverflowPerMin float64 `json:"overflow_per_min"`
	OverflowInUse  bool    `json:"overflow_in_use"`
	// Rejected counts the requests the policy limited since it was built
	// (those a dry run let through included); RejectedPerMin is their rate
	// over the last minute, the row's Value.
	Rejected       uint64  `json:"rejected"`
	RejectedPerMin float64 `json:"rejected_per_min"`
	DryRun         bool    `json:"dry_run,omitempty"`
}

// enforcerStatus is what an Enforcer's report keeps between reports.
type enforcerStatus struct {
	key       string // the route pattern under NewPolicies
	rejected  *registry.PerMinute
	overflows *registry.PerMinute
}

// register adds e to the status registry under its policy name, with
// key (the route pattern of a NewPolicies route) as the row's key.
func (e *Enforcer) register(key string) {
	if !registry.Enabled() {
		return
	}
	now := time.Now()
	e.status = &enforcerStatus{key: key, rejected: registry.NewPerMinute(now), overflows: registry.NewPerMinute(now)}
	registry.Add(registry.KindRateLimit, e.name, e, (*Enforcer).report)
}

func (e *Enforcer) report(dst []registry.Component) []registry.Component {
	st := e.status
	q := e.lim.Quota()
	r := PolicyReport{Limiter: "external", Limit: float64(q.Limit), Burst: q.Burst, DryRun: e.dryRun}
	switch l := e.lim.(type) {
	case *Limiter:
		r.Limiter = "single"
	case *Keyed:
		r.Limiter = "keyed"
		r.Keys = l.Len()
		r.MaxKeys = l.store.capacity()
		r.Overflows = l.Overflows()
	}
	now := time.Now()
	r.Rejected = e.rejected.Load()
	r.RejectedPerMin = st.rejected.Observe(now, r.Rejected)
	r.OverflowPerMin = st.overflows.Observe(now, r.Overflows)
	r.OverflowInUse = r.OverflowPerMin > 0
	c := registry.Component{
		Kind: registry.KindRateLimit, Name: e.name, Key: st.key,
		State: "ok", Health: registry.HealthOK,
		Value: r.RejectedPerMin, Unit: "rejections/min", Stats: r,
	}
	switch {
	case r.OverflowInUse:
		c.State, c.Health = "overflow", registry.HealthWarn
	case r.RejectedPerMin > 0:
		c.State, c.Health = "limiting", registry.HealthWarn
	}
	return append(dst, c)
}

// capacity returns the number of keys the store holds at most; 0 for
// the nil store of an infinite limit.
func (s *store) capacity() int {
	if s == nil {
		return 0
	}
	n := 0
	for i := range s.shards {
		n += s.shards[i].size
	}
	return n
}
