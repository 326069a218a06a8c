package retry

import (
	"context"
	"math"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// Report is the Stats of a Retrier's row on the status page
// (registry.KindRetry): its retry budget now, read under the budget's
// lock (the one the retry path takes, never a first attempt's) when the
// page asks. Retriers sharing a Budget report the same budget.
type Report struct {
	// Budget is false when the Retrier has none (WithBudget(nil)): its
	// retries are bounded by MaxAttempts only, and the budget fields are
	// zero.
	Budget bool `json:"budget"`
	// Available is the number of retries the budget allows now, the
	// row's Value: Capacity less Retries, whole, at least 0.
	Available float64 `json:"available"`
	// Capacity is what the window allows: Ratio × Requests plus
	// MinPerSecond per second of the ten-second window.
	Capacity float64 `json:"capacity"`
	// Requests and Retries are the first attempts and retries counted in
	// the last ten seconds.
	Requests     float64 `json:"requests"`
	Retries      int64   `json:"retries"`
	Ratio        float64 `json:"ratio"`
	MinPerSecond float64 `json:"min_per_second"`
	// Exhausted counts the retries the budget refused since the Retrier
	// was built; ExhaustedPerMin is their rate over the last minute.
	Exhausted       uint64  `json:"exhausted"`
	ExhaustedPerMin float64 `json:"exhausted_per_min"`
	MaxAttempts     int     `json:"max_attempts"`
	Hedging         bool    `json:"hedging,omitempty"`
}

// retrierStatus is what a Retrier's report keeps between reports.
type retrierStatus struct {
	exhausted *registry.PerMinute
}

// register adds r to the status registry under its name.
func (r *Retrier) register() {
	if !registry.Enabled() {
		return
	}
	r.status = &retrierStatus{exhausted: registry.NewPerMinute(time.Now())}
	registry.Add(registry.KindRetry, r.cfg.name, r, (*Retrier).report)
}

// budgetExhausted counts a retry the budget refused.
func (r *Retrier) budgetExhausted(ctx context.Context) {
	r.exhaustedN.Add(1)
	r.exhausted.Add(ctx, "")
}

func (r *Retrier) report(dst []registry.Component) []registry.Component {
	rep := Report{MaxAttempts: r.cfg.maxAttempts, Hedging: r.cfg.hedging, Exhausted: r.exhaustedN.Load()}
	rep.ExhaustedPerMin = r.status.exhausted.Observe(time.Now(), rep.Exhausted)
	row := registry.Component{Kind: registry.KindRetry, Name: r.cfg.name, State: "ok", Health: registry.HealthOK,
		Unit: "retries available"}
	if b := r.cfg.budget; b != nil {
		rep.Budget, rep.Ratio, rep.MinPerSecond = true, b.ratio, b.minPerSecond
		rep.Requests, rep.Retries, rep.Capacity = b.window()
		rep.Available = max(0, math.Floor(rep.Capacity-float64(rep.Retries)))
		row.Value = rep.Available
		if rep.Available < 1 {
			row.State, row.Health = "exhausted", registry.HealthWarn
		}
	} else {
		row.Unit = "unbudgeted"
	}
	row.Stats = rep
	return append(dst, row)
}

// window returns the requests and retries counted in the window now and
// the retries it allows in all, placing the pending requests as a retry
// would.
func (b *Budget) window() (requests float64, retries int64, capacity float64) {
	now := time.Since(b.base)
	sec := int64(now / time.Second)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.place(now)
	for i := range b.slots {
		if s := &b.slots[i]; s.sec > sec-budgetWindow && s.sec <= sec {
			requests += s.requests
			retries += s.retries
		}
	}
	return requests, retries, b.ratio*requests + b.minPerSecond*budgetWindow
}
