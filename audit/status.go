package audit

import (
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// Report is the Stats of an Emitter's row on the status page
// (registry.KindAudit), read when the page asks: the queues under the
// lock every Emit takes for a moment, the counters from atomics.
type Report struct {
	// Mode is the back-pressure mode (WithMode).
	Mode string `json:"mode"`
	// QueueDepth is the deepest sink queue now, the row's Value, out of
	// QueueCapacity (each sink's, WithQueueSize).
	QueueDepth    int `json:"queue_depth"`
	QueueCapacity int `json:"queue_capacity"`
	// Written, Failed and Dropped sum the sinks' counts since New;
	// DroppedPerMin is the rate of drops over the last minute.
	Written       uint64  `json:"written"`
	Failed        uint64  `json:"failed"`
	Dropped       uint64  `json:"dropped"`
	DroppedPerMin float64 `json:"dropped_per_min"`
	DryRun        bool    `json:"dry_run,omitempty"`
	// Sinks are the sinks in the order of WithSink.
	Sinks []SinkReport `json:"sinks"`
}

// SinkReport is one sink's state in a Report.
type SinkReport struct {
	Name   string `json:"name"`
	Queued int    `json:"queued"`
	// Written and Failed count the events the sink's Writes took and
	// those of the batches whose Write failed; Dropped counts the events
	// that found its queue full.
	Written uint64 `json:"written"`
	Failed  uint64 `json:"failed"`
	Dropped uint64 `json:"dropped"`
	// Failing is true when the sink's last Write failed, LastError its
	// error (the first 200 bytes of its message).
	Failing   bool   `json:"failing"`
	LastError string `json:"last_error,omitempty"`
}

// sinkCounts are a sink's counts for the status page, kept on its
// worker's path and, for drops, on the drop path only.
type sinkCounts struct {
	written, failed, dropped atomic.Uint64
	lastErr                  atomic.Pointer[string] // nil: the last Write succeeded
}

// wrote accounts for a Write of n events that ended with err.
func (c *sinkCounts) wrote(n int64, err error) {
	if err == nil {
		c.written.Add(uint64(n))
		if c.lastErr.Load() != nil {
			c.lastErr.Store(nil)
		}
		return
	}
	c.failed.Add(uint64(n))
	msg := err.Error()
	if len(msg) > maxStatusError {
		msg = msg[:maxStatusError]
	}
	c.lastErr.Store(&msg)
}

// maxStatusError bounds the error message a SinkReport carries.
const maxStatusError = 200

// emitterStatus is an Emitter's registration on the status page.
type emitterStatus struct {
	handle  *registry.Handle
	dropped *registry.PerMinute
}

func (e *Emitter) register() {
	if registry.Enabled() {
		e.status = &emitterStatus{dropped: registry.NewPerMinute(time.Now())}
		e.status.handle = registry.Add(registry.KindAudit, e.name, e, (*Emitter).report)
	}
}

func (e *Emitter) report(dst []registry.Component) []registry.Component {
	r := Report{Mode: e.mode.String(), QueueCapacity: e.queueSize, DryRun: e.dryRun, Sinks: make([]SinkReport, len(e.sinks))}
	e.mu.Lock()
	for i, s := range e.sinks {
		r.Sinks[i].Queued = s.n
	}
	e.mu.Unlock()
	failing := false
	for i, s := range e.sinks {
		sr := &r.Sinks[i]
		sr.Name = s.name
		sr.Written, sr.Failed, sr.Dropped = s.counts.written.Load(), s.counts.failed.Load(), s.counts.dropped.Load()
		if msg := s.counts.lastErr.Load(); msg != nil {
			sr.Failing, sr.LastError = true, *msg
			failing = true
		}
		r.QueueDepth = max(r.QueueDepth, sr.Queued)
		r.Written += sr.Written
		r.Failed += sr.Failed
		r.Dropped += sr.Dropped
	}
	r.DroppedPerMin = e.status.dropped.Observe(time.Now(), r.Dropped)
	row := registry.Component{Kind: registry.KindAudit, Name: e.name, State: "ok", Health: registry.HealthOK,
		Value: float64(r.QueueDepth), Unit: "queued events", Stats: r}
	switch {
	case failing:
		row.State, row.Health = "failing", registry.HealthBad
	case r.DroppedPerMin > 0:
		row.State, row.Health = "dropping", registry.HealthWarn
	}
	return append(dst, row)
}
