package otelx

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// The paved.* metrics are registered here and only here, so every package
// uses the names, units and attributes of the design exactly. Each
// constructor takes the MeterProvider a package was configured with (nil
// means the global one) and the subject (a breaker's name, a policy's
// name). Attribute sets are built once, so recording allocates nothing;
// with a no-op MeterProvider recording is a nil check. Keys with unbounded
// values (client addresses, user ids, cache keys) never become attributes.

// ScopeName is the instrumentation scope of paved's meters and tracers.
const ScopeName = "github.com/paved-go/paved"

// Span event names paved packages add to the current span.
const (
	EventBreakerRejected  = "breaker.rejected"
	EventRateLimitLimited = "ratelimit.limited"
	EventRetryAttempt     = "retry.attempt"
	EventCacheStaleServed = "cache.stale_served"
	EventAuthzDenied      = "authz.denied"
)

// AddEvent adds a span event to the span in ctx when it is recording; it
// costs a single check otherwise.
func AddEvent(ctx context.Context, name string, attrs ...attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}

func meter(mp metric.MeterProvider) (metric.Meter, bool) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	_, isNoop := mp.(noop.MeterProvider)
	return mp.Meter(ScopeName), !isNoop
}

// Counter counts one subject's events by outcome. A nil *Counter is a
// valid no-op. It is safe for concurrent use.
type Counter struct {
	c        metric.Int64Counter
	on       bool
	subject  attribute.KeyValue
	key      string
	outcomes []string
	opts     [][]metric.AddOption // opts[i] records outcomes[i]
}

func newCounter(mp metric.MeterProvider, name, unit, desc string, subject attribute.KeyValue, key string, outcomes ...string) (*Counter, error) {
	m, on := meter(mp)
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		return nil, wrapMetricErr(name, err)
	}
	ctr := &Counter{c: c, on: on, subject: subject, key: key, outcomes: outcomes}
	if key == "" {
		ctr.opts = [][]metric.AddOption{{metric.WithAttributeSet(attribute.NewSet(subject))}}
		return ctr, nil
	}
	for _, o := range outcomes {
		ctr.opts = append(ctr.opts, []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(subject, attribute.String(key, o)))})
	}
	return ctr, nil
}

// Add counts one event with the given outcome (ignored for counters
// without one). Outcomes of the design are recorded without allocating.
func (c *Counter) Add(ctx context.Context, outcome string) {
	if c == nil || !c.on {
		return
	}
	if c.key == "" {
		c.c.Add(ctx, 1, c.opts[0]...)
		return
	}
	for i, o := range c.outcomes {
		if o == outcome {
			c.c.Add(ctx, 1, c.opts[i]...)
			return
		}
	}
	c.c.Add(ctx, 1, metric.WithAttributes(c.subject, attribute.String(c.key, outcome)))
}

// Gauge records one subject's current value. A nil *Gauge is a no-op.
type Gauge struct {
	g    metric.Int64Gauge
	on   bool
	opts []metric.RecordOption
}

// Record sets the current value.
func (g *Gauge) Record(ctx context.Context, v int64) {
	if g == nil || !g.on {
		return
	}
	g.g.Record(ctx, v, g.opts...)
}

// StateSeries holds the attribute sets of one subject's
// paved.breaker.state series, built once so observing allocates nothing.
type StateSeries struct {
	opts [len(breakerStates)][]metric.ObserveOption
}

// breakerStates are the state attribute values of paved.breaker.state,
// indexed by the breaker package's State values.
var breakerStates = [...]string{"closed", "open", "half_open"}

// NewBreakerStateSeries returns the series of breaker's paved.breaker.state.
func NewBreakerStateSeries(breaker string) *StateSeries {
	s := &StateSeries{}
	for i, st := range breakerStates {
		s.opts[i] = []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String(AttrBreakerName, breaker), attribute.String("state", st)))}
	}
	return s
}

// StateObserver reports subjects' states during one collection.
type StateObserver struct {
	o metric.Observer
	g metric.Int64ObservableGauge
}

// Observe reports state (an index into closed, open, half_open) as the
// current one of s: 1 for it, 0 for the others.
func (o StateObserver) Observe(s *StateSeries, state int) {
	for i := range s.opts {
		var v int64
		if i == state {
			v = 1
		}
		o.o.ObserveInt64(o.g, v, s.opts[i]...)
	}
}

// BreakerStates registers observe as a source of paved.breaker.state, an
// observable gauge: at each collection observe reports every breaker it
// knows, so a breaker it no longer reports has no series any more, rather
// than its last state forever. It returns the registration, to be
// unregistered when the breakers are gone, or nil for a no-op provider.
// observe runs on the reader's goroutine, concurrently with calls.
func BreakerStates(mp metric.MeterProvider, observe func(StateObserver)) (metric.Registration, error) {
	const name = "paved.breaker.state"
	m, on := meter(mp)
	if !on {
		return nil, nil
	}
	g, err := m.Int64ObservableGauge(name, metric.WithUnit("{state}"), metric.WithDescription("1 for the state a circuit breaker is in, 0 for the others."))
	if err != nil {
		return nil, wrapMetricErr(name, err)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		observe(StateObserver{o, g})
		return nil
	}, g)
	if err != nil {
		return nil, wrapMetricErr(name, err)
	}
	return reg, nil
}

// Histogram records one subject's durations in seconds. A nil *Histogram
// is a no-op.
type Histogram struct {
	h    metric.Float64Histogram
	on   bool
	opts []metric.RecordOption
}

// Record records d.
func (h *Histogram) Record(ctx context.Context, d time.Duration) {
	if h == nil || !h.on {
		return
	}
	h.h.Record(ctx, d.Seconds(), h.opts...)
}

// Attribute keys of paved metrics.
const (
	AttrBreakerName     = "paved.breaker.name"
	AttrRateLimitPolicy = "paved.ratelimit.policy"
	AttrRetryName       = "paved.retry.name"
	AttrCacheName       = "paved.cache.name"
	AttrAuthzPolicy     = "paved.authz.policy"
	AttrAuditSink       = "paved.audit.sink"
)

// BreakerCalls returns paved.breaker.calls for one breaker; outcomes are
// success, failure, slow, ignored and rejected.
func BreakerCalls(mp metric.MeterProvider, breaker string) (*Counter, error) {
	return newCounter(mp, "paved.breaker.calls", "{call}", "Calls through a circuit breaker, by outcome.",
		attribute.String(AttrBreakerName, breaker), "outcome", "success", "failure", "slow", "ignored", "rejected")
}

// RateLimitDecisions returns paved.ratelimit.decisions for one policy;
// decisions are allowed and limited.
func RateLimitDecisions(mp metric.MeterProvider, policy string) (*Counter, error) {
	return newCounter(mp, "paved.ratelimit.decisions", "{decision}", "Rate limit decisions, by decision.",
		attribute.String(AttrRateLimitPolicy, policy), "decision", "allowed", "limited")
}

// RateLimitOverflow returns paved.ratelimit.overflow for one policy:
// decisions made on a keyed limiter's shared overflow bucket, because
// every slot of its store held a bucket still refilling.
func RateLimitOverflow(mp metric.MeterProvider, policy string) (*Counter, error) {
	return newCounter(mp, "paved.ratelimit.overflow", "{decision}",
		"Rate limit decisions made on a keyed limiter's shared overflow bucket, because its store was full of buckets still refilling.",
		attribute.String(AttrRateLimitPolicy, policy), "")
}

// RetryAttempts returns paved.retry.attempts for one retrier; outcomes are
// success, retry (failed, will be retried) and failure (failed, final).
func RetryAttempts(mp metric.MeterProvider, name string) (*Counter, error) {
	return newCounter(mp, "paved.retry.attempts", "{attempt}", "Attempts made by a retrier, by outcome.",
		attribute.String(AttrRetryName, name), "outcome", "success", "retry", "failure")
}

// RetryBudgetExhausted returns paved.retry.budget.exhausted for one
// retrier: retries refused because the retry budget was spent.
func RetryBudgetExhausted(mp metric.MeterProvider, name string) (*Counter, error) {
	return newCounter(mp, "paved.retry.budget.exhausted", "{retry}", "Retries refused because the retry budget was exhausted.",
		attribute.String(AttrRetryName, name), "")
}

// CacheRequests returns paved.cache.requests for one cache; results are
// hit, miss, stale, coalesced, negative and error.
func CacheRequests(mp metric.MeterProvider, cache string) (*Counter, error) {
	return newCounter(mp, "paved.cache.requests", "{request}", "Cache lookups, by result.",
		attribute.String(AttrCacheName, cache), "result", "hit", "miss", "stale", "coalesced", "negative", "error")
}

// durationBuckets are the bucket boundaries, in seconds, OTel's semantic
// conventions advise for durations (http.server.request.duration). The
// SDK's defaults (0, 5, 10, 25, ...) suit milliseconds and would put every
// load under 5 s in one bucket.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// CacheLoadDuration returns paved.cache.load.duration for one cache.
func CacheLoadDuration(mp metric.MeterProvider, cache string) (*Histogram, error) {
	const name = "paved.cache.load.duration"
	m, on := meter(mp)
	h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription("Duration of cache loads."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, wrapMetricErr(name, err)
	}
	return &Histogram{h: h, on: on, opts: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrCacheName, cache)))}}, nil
}

// AuthzDecisions returns paved.authz.decisions for one policy; decisions
// are allow, deny and error.
func AuthzDecisions(mp metric.MeterProvider, policy string) (*Counter, error) {
	return newCounter(mp, "paved.authz.decisions", "{decision}", "Authorization decisions, by decision.",
		attribute.String(AttrAuthzPolicy, policy), "decision", "allow", "deny", "error")
}

// AuditEvents returns paved.audit.events for one sink; results are
// written, dropped and failed.
func AuditEvents(mp metric.MeterProvider, sink string) (*Counter, error) {
	return newCounter(mp, "paved.audit.events", "{event}", "Audit events, by result.",
		attribute.String(AttrAuditSink, sink), "result", "written", "dropped", "failed")
}

// AuditQueueSize returns paved.audit.queue.size for one sink.
func AuditQueueSize(mp metric.MeterProvider, sink string) (*Gauge, error) {
	const name = "paved.audit.queue.size"
	m, on := meter(mp)
	g, err := m.Int64Gauge(name, metric.WithUnit("{event}"), metric.WithDescription("Audit events waiting to be written."))
	if err != nil {
		return nil, wrapMetricErr(name, err)
	}
	return &Gauge{g: g, on: on, opts: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrAuditSink, sink)))}}, nil
}

func wrapMetricErr(name string, err error) error {
	return &metricError{name: name, err: err}
}

type metricError struct {
	name string
	err  error
}

func (e *metricError) Error() string { return "paved: metric " + e.name + ": " + e.err.Error() }
func (e *metricError) Unwrap() error { return e.err }
