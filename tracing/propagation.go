package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TraceContext is the W3C Trace Context propagator paved uses by default
// (with W3C Baggage beside it). It reads and writes the same traceparent
// and tracestate headers as propagation.TraceContext, and conforms where
// that one does not:
//
//   - Several tracestate fields are combined into one list, as §3.3.1
//     asks (RFC 9110 §5.3), instead of keeping only the first.
//   - Several traceparent fields make the request start a new trace
//     (§3.2, "traceparent duplicated"), instead of using the first.
//   - A version-00 traceparent whose trace-flags set bits this version
//     does not define is accepted, with those bits cleared (§3.2.2.5),
//     instead of being ignored; leading and trailing spaces and tabs
//     around the value are ignored.
//   - Empty and whitespace-only tracestate list members are skipped
//     (§3.3.1.1) instead of making the whole tracestate invalid.
//
// As the specification asks, an invalid traceparent (a bad version, ff,
// upper-case or all-zero ids, a version-00 value that is not exactly 55
// characters, a higher version whose fields are not where version 00 has
// them) is ignored and tracestate is then not read; a tracestate that
// breaks the key or value grammar, repeats a key or has more than 32
// members is dropped whole, while the traceparent is still used.
//
// On injection into an http.Header (propagation.HeaderCarrier), the
// traceparent and tracestate fields already there are replaced, not added
// to: a reverse proxy that copies the inbound header would otherwise send
// a stale tracestate beside the new traceparent. With no trace to inject,
// fields Extract would refuse (a duplicated or invalid traceparent, a
// tracestate without one) are removed, so they do not travel on either; a
// valid traceparent is left as it is.
//
// Set it as the global propagator with
// otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(tracing.TraceContext{}, propagation.Baggage{})),
// as package telemetry does.
type TraceContext struct{}

var _ propagation.TextMapPropagator = TraceContext{}

const (
	traceparentKey = "traceparent"
	tracestateKey  = "tracestate"
	// Canonical http.Header keys, for map look-ups without allocating.
	traceparentHeader = "Traceparent"
	tracestateHeader  = "Tracestate"
)

// Fields returns the header names TraceContext reads and writes.
func (TraceContext) Fields() []string { return []string{traceparentKey, tracestateKey} }

// Inject writes the span context of ctx, if it is valid, to carrier.
func (TraceContext) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	var h map[string][]string
	switch c := carrier.(type) {
	case propagation.HeaderCarrier:
		h = c
	case headerCarrier:
		h = c
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// No trace to send. Fields a reverse proxy copied from the
		// inbound request that Extract refused (a duplicated or invalid
		// traceparent, a tracestate without one) must not travel on:
		// a downstream that reads the first of two traceparents would
		// continue the trace this service restarted. A valid traceparent
		// the caller set itself is kept.
		if h != nil && refusedTraceFields(h) {
			delete(h, traceparentHeader)
			delete(h, tracestateHeader)
		}
		return
	}
	if h != nil {
		delete(h, traceparentHeader)
		delete(h, tracestateHeader)
	}
	propagation.TraceContext{}.Inject(ctx, carrier)
}

// refusedTraceFields reports whether h carries trace context fields that
// Extract would not use: a traceparent that is duplicated or invalid, or a
// tracestate without a traceparent.
func refusedTraceFields(h map[string][]string) bool {
	parents := h[traceparentHeader]
	switch len(parents) {
	case 0:
		return len(h[tracestateHeader]) > 0
	case 1:
		scc, ok := parseTraceparent(parents[0])
		return !ok || !scc.TraceID.IsValid() || !scc.SpanID.IsValid()
	}
	return true
}

// Extract returns ctx with the remote span context carrier describes, or
// ctx itself when carrier has no valid traceparent.
func (TraceContext) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	sc, ok := extractTraceContext(carrier)
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// fieldValues returns every value of a field: the carrier's own slice
// for http.Header and other ValuesGetters, without copying.
func fieldValues(carrier propagation.TextMapCarrier, key, canonical string) []string {
	switch c := carrier.(type) {
	case propagation.HeaderCarrier:
		return c[canonical] // what http.Header.Values would find, without canonicalizing key
	case propagation.ValuesGetter:
		return c.Values(key)
	}
	if v := carrier.Get(key); v != "" {
		return []string{v}
	}
	return nil
}

func extractTraceContext(carrier propagation.TextMapCarrier) (trace.SpanContext, bool) {
	parents := fieldValues(carrier, traceparentKey, traceparentHeader)
	if len(parents) != 1 {
		return trace.SpanContext{}, false // none, or duplicated: restart
	}
	scc, ok := parseTraceparent(parents[0])
	if !ok {
		return trace.SpanContext{}, false
	}
	// A tracestate that fails to parse does not affect the traceparent
	// (§3.3): it is dropped whole.
	scc.TraceState, _ = trace.ParseTraceState(combineTracestate(fieldValues(carrier, tracestateKey, tracestateHeader)))
	scc.Remote = true
	sc := trace.NewSpanContext(scc)
	return sc, sc.IsValid()
}

// traceparentLen is the length of a version-00 traceparent, and the
// shortest a higher version can be.
const traceparentLen = 55

// parseTraceparent parses a traceparent value (§3.2.2, §3.2.4).
func parseTraceparent(s string) (trace.SpanContextConfig, bool) {
	var scc trace.SpanContextConfig
	s = strings.Trim(s, " \t")
	if len(s) < traceparentLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return scc, false
	}
	ver, ok := hexByte(s[0], s[1])
	switch {
	case !ok || ver == 0xff:
		return scc, false
	case ver == 0 && len(s) != traceparentLen:
		return scc, false
	case ver > 0 && len(s) > traceparentLen && s[traceparentLen] != '-':
		return scc, false // fields of a future version follow a dash
	}
	if !decodeHex(scc.TraceID[:], s[3:35]) || !decodeHex(scc.SpanID[:], s[36:52]) {
		return scc, false
	}
	flags, ok := hexByte(s[53], s[54])
	if !ok {
		return scc, false
	}
	scc.TraceFlags = trace.TraceFlags(flags) & (trace.FlagsSampled | trace.FlagsRandom)
	return scc, true
}

func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		b, ok := hexByte(s[2*i], s[2*i+1])
		if !ok {
			return false
		}
		dst[i] = b
	}
	return true
}

// hexByte decodes two lower-case hex digits (HEXDIGLC).
func hexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// combineTracestate joins several tracestate fields into one list
// (RFC 9110 §5.3) and drops empty and whitespace-only members, which
// §3.3.1.1 allows and trace.ParseTraceState would reject. The common
// case, one field with no such member, costs no allocation.
func combineTracestate(vals []string) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		if !hasBlankMember(vals[0]) {
			return vals[0]
		}
	}
	var b strings.Builder
	for _, v := range vals {
		for member := range strings.SplitSeq(v, ",") {
			if strings.Trim(member, " \t") == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(member)
		}
	}
	return b.String()
}

// hasBlankMember reports whether a tracestate field has a member that
// is empty or only spaces and tabs.
func hasBlankMember(v string) bool {
	for member := range strings.SplitSeq(v, ",") {
		if strings.Trim(member, " \t") == "" {
			return true
		}
	}
	return false
}

// headerCarrier is propagation.HeaderCarrier for the W3C fields, whose
// look-ups do not allocate: http.Header canonicalizes the lower-case
// names propagators ask for into a new string on every call.
type headerCarrier http.Header

func canonicalField(key string) string {
	switch key {
	case traceparentKey:
		return traceparentHeader
	case tracestateKey:
		return tracestateHeader
	case "baggage":
		return "Baggage"
	}
	return key
}

func (h headerCarrier) Get(key string) string { return http.Header(h).Get(canonicalField(key)) }

func (h headerCarrier) Set(key, value string) { http.Header(h).Set(canonicalField(key), value) }

func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

func (h headerCarrier) Values(key string) []string {
	return http.Header(h).Values(canonicalField(key))
}
