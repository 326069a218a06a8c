package idempotency

import (
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// stats is the Stats of a guard's row on the status page.
type stats struct {
	Conflicts   uint64 `json:"conflicts"`
	Mismatches  uint64 `json:"mismatches"`
	Released    uint64 `json:"released"`
	StoreErrors uint64 `json:"store_errors"`
	FailOpen    bool   `json:"fail_open"`
	Records     int    `json:"records,omitempty"`
	Bytes       int64  `json:"bytes,omitempty"`
	MaxBytes    int64  `json:"max_bytes,omitempty"`
	Evictions   uint64 `json:"evictions,omitempty"`
}

// report is the guard's row: state ok, or store_failing (health bad)
// within a minute of a store error; the value is refusals (conflicts and
// mismatches) per minute.
func report(g *Guard, dst []registry.Component) []registry.Component {
	now := time.Now()
	st := stats{
		Conflicts:   g.conflicts.Load(),
		Mismatches:  g.mismatches.Load(),
		Released:    g.released.Load(),
		StoreErrors: g.storeErrors.Load(),
		FailOpen:    g.cfg.failOpen,
	}
	if m := g.fast; m != nil { // a shared store shows in each guard's row
		st.Records, st.Bytes, st.MaxBytes, st.Evictions = m.Len(), m.Bytes(), m.MaxBytes(), m.Evictions()
	}
	state, health := "ok", registry.HealthOK
	if last := g.lastStoreError.Load(); last != 0 && now.Sub(time.Unix(0, last)) < time.Minute {
		state, health = "store_failing", registry.HealthBad
	}
	return append(dst, registry.Component{
		Kind:   registry.KindIdempotency,
		Name:   g.name,
		State:  state,
		Health: health,
		Value:  g.refusals.Observe(now, st.Conflicts+st.Mismatches),
		Unit:   "refusals/min",
		Stats:  st,
	})
}
