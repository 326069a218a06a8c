// Package otelx is the one place paved's own metric instruments and span
// event names are defined, so every package records paved.* metrics with
// the same names, units and attributes.
//
// Users never import it: package tracing's documentation carries the
// table of every metric (name, kind, unit, attributes and their values)
// and every span event for building dashboards. A metric or event added,
// renamed or given new attribute values here is a change to that table
// too, and to the design's.
package otelx
