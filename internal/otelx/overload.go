package otelx

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttrOverloadName is the attribute key naming a bulkhead or limiter.
const AttrOverloadName = "paved.overload.name"

// EventOverloadShed is the span event added when a request is shed.
const EventOverloadShed = "overload.shed"

// Overload decision values of paved.overload.decisions.
const (
	OverloadAdmitted = iota
	OverloadQueued
	OverloadShed
)

var overloadDecisions = [...]string{"admitted", "queued", "shed"}

// overloadClasses are the class attribute values, indexed by the overload
// package's class index (sheddable, default, critical).
var overloadClasses = [...]string{"sheddable", "default", "critical"}

// OverloadCounter is one bulkhead's or limiter's paved.overload.decisions,
// with every attribute set built once. A nil *OverloadCounter is a no-op.
type OverloadCounter struct {
	c    metric.Int64Counter
	on   bool
	opts [len(overloadClasses)][len(overloadDecisions)][]metric.AddOption
}

// OverloadDecisions returns paved.overload.decisions for one bulkhead or
// limiter, by class (sheddable, default, critical) and decision
// (admitted, queued, shed).
func OverloadDecisions(mp metric.MeterProvider, name string) (*OverloadCounter, error) {
	const metricName = "paved.overload.decisions"
	m, on := meter(mp)
	c, err := m.Int64Counter(metricName, metric.WithUnit("{decision}"),
		metric.WithDescription("Overload protection decisions, by class and decision."))
	if err != nil {
		return nil, wrapMetricErr(metricName, err)
	}
	oc := &OverloadCounter{c: c, on: on}
	for i, cl := range overloadClasses {
		for j, d := range overloadDecisions {
			oc.opts[i][j] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
				attribute.String(AttrOverloadName, name), attribute.String("class", cl), attribute.String("decision", d)))}
		}
	}
	return oc, nil
}

// Add counts one decision (OverloadAdmitted, OverloadQueued, OverloadShed)
// for the class index (0 sheddable, 1 default, 2 critical).
func (c *OverloadCounter) Add(ctx context.Context, class, decision int) {
	if c == nil || !c.on {
		return
	}
	c.c.Add(ctx, 1, c.opts[class][decision]...)
}

// OverloadLimit returns paved.overload.limit for one bulkhead or limiter:
// its current concurrency limit.
func OverloadLimit(mp metric.MeterProvider, name string) (*Gauge, error) {
	const metricName = "paved.overload.limit"
	m, on := meter(mp)
	g, err := m.Int64Gauge(metricName, metric.WithUnit("{request}"),
		metric.WithDescription("Concurrency limit of a bulkhead or adaptive limiter."))
	if err != nil {
		return nil, wrapMetricErr(metricName, err)
	}
	return &Gauge{g: g, on: on, opts: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrOverloadName, name)))}}, nil
}
