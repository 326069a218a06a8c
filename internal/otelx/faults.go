package otelx

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// AttrFaultsName is the attribute key naming a fault injector.
const AttrFaultsName = "paved.faults.name"

// AttrFaultsRule is the span attribute set on the current span when a
// fault is injected into its request: the rule's name.
const AttrFaultsRule = "paved.faults.rule"

// EventFaultsInjected is the span event added when a fault is injected.
const EventFaultsInjected = "faults.injected"

// Fault kinds, the kind attribute of paved.faults.injected.
const (
	FaultLatency = "latency"
	FaultError   = "error"
	FaultReset   = "reset"
	FaultAbort   = "abort"
)

// FaultsCounter is one injector's paved.faults.injected. A nil
// *FaultsCounter is a no-op.
type FaultsCounter struct {
	c    metric.Int64Counter
	on   bool
	name string
}

// FaultsInjected returns paved.faults.injected for the injector name: a
// counter of injected faults by rule and kind (latency, error, reset,
// abort). Rule names are the user's configuration, so they are bounded.
func FaultsInjected(mp metric.MeterProvider, name string) (*FaultsCounter, error) {
	const metricName = "paved.faults.injected"
	m, on := meter(mp)
	c, err := m.Int64Counter(metricName, metric.WithUnit("{fault}"),
		metric.WithDescription("Faults injected on purpose, by rule and kind."))
	if err != nil {
		return nil, wrapMetricErr(metricName, err)
	}
	return &FaultsCounter{c: c, on: on, name: name}, nil
}

// FaultAttrs is the attribute set of one rule's injections, built once
// when the rule is set.
type FaultAttrs struct {
	opts  []metric.AddOption
	event []attribute.KeyValue
	rule  attribute.KeyValue
}

// Attrs builds the attributes recorded for the rule's injections of kind.
func (c *FaultsCounter) Attrs(rule, kind string) *FaultAttrs {
	name := ""
	if c != nil {
		name = c.name
	}
	return &FaultAttrs{
		opts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String(AttrFaultsName, name), attribute.String("rule", rule), attribute.String("kind", kind)))},
		event: []attribute.KeyValue{attribute.String("rule", rule), attribute.String("kind", kind)},
		rule:  attribute.String(AttrFaultsRule, rule),
	}
}

// Record counts one injection with a, and adds the faults.injected event
// and the paved.faults.rule attribute to the span in ctx when it is
// recording.
func (c *FaultsCounter) Record(ctx context.Context, a *FaultAttrs) {
	if c != nil && c.on && a != nil {
		c.c.Add(ctx, 1, a.opts...)
	}
	if a == nil {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventFaultsInjected, trace.WithAttributes(a.event...))
		span.SetAttributes(a.rule)
	}
}
