package tracing

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/internal/httpx"
)

// AttrCorrelationID is the span attribute that carries the correlation id.
const AttrCorrelationID = "paved.correlation_id"

// Middleware is Default().Middleware.
func Middleware(next http.Handler) http.Handler { return defaultTracer.Middleware(next) }

// Transport is Default().Transport.
func Transport(base http.RoundTripper) http.RoundTripper { return defaultTracer.Transport(base) }

// Middleware gives every request a correlation id and, with spans on, a
// server span. The id is the request's correlation header (X-Request-ID as
// a fallback) when it holds exactly one valid value, and a new UUIDv7
// otherwise; it is stored in the request context (CorrelationID) and set
// on the response header before next runs, so even error responses carry
// it. Spans come from otelhttp, named by the request's method and the
// http.ServeMux pattern that served it ("GET /instances/{id}"), with
// methods outside RFC 9110 named "HTTP", so names stay low-cardinality;
// they carry the correlation id as attribute paved.correlation_id.
//
// With spans off, an incoming traceparent, tracestate and baggage are
// still read into the request context (see WithSpans), so Transport sends
// them on and logs carry the caller's trace id.
//
// Put Middleware outside the ServeMux and outside middleware that logs, so
// their log lines carry the ids. The pattern is read from the request
// Middleware passed on, so middleware between it and the ServeMux that
// replaces the request (r.WithContext) leaves spans named "{method}".
//
// A nil *Tracer is Default().
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	if t == nil {
		t = defaultTracer
	}
	inner := next
	if t.cfg.spans {
		inner = otelhttp.NewHandler(spanAttrs(next), "", t.otelhttpOptions(true)...)
	}
	header := t.cfg.header
	extract := !t.cfg.spans // otelhttp extracts when spans are on
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if httpx.CorrelationID(r.Context()) != "" { // an outer Tracer did the work
			inner.ServeHTTP(w, r)
			return
		}
		primary := r.Header[header]
		var fallback []string
		if len(primary) == 0 {
			fallback = r.Header[requestIDHeader]
		}
		vals, _ := t.correlationValues(primary, fallback)
		w.Header()[header] = vals
		if extract && t.hasTraceContext(r.Header) {
			r = r.WithContext(t.cfg.propagators.Extract(r.Context(), headerCarrier(r.Header)))
		}
		r = httpx.RequestWithCorrelationID(r, vals[0])
		defer noteRequest(r) // deferred: a panicking handler's request is logged too
		inner.ServeHTTP(w, r)
	})
}

// correlationValues is the one rule for an incoming correlation id (see
// Incoming). It returns the header value to answer with: the request's
// own one-element slice when it holds a valid id (no allocation; Header
// methods replace or grow slices, never write into them), or a new id's,
// reported as fresh.
func (t *Tracer) correlationValues(primary, fallback []string) (vals []string, fresh bool) {
	vals = primary
	if len(vals) == 0 {
		vals = fallback
	}
	if len(vals) == 1 && ValidCorrelationID(vals[0]) {
		return vals, false
	}
	if len(vals) > 0 {
		t.cfg.log().Debug("tracing: replaced an invalid or repeated correlation id",
			"header_values", len(vals))
	}
	return newCorrelationValues(), true
}

// hasTraceContext reports whether a request may carry trace context:
// with the default propagators, a traceparent or baggage field; with
// others, always.
func (t *Tracer) hasTraceContext(h http.Header) bool {
	if t.cfg.customPropagators {
		return true
	}
	return len(h[traceparentHeader]) > 0 || len(h["Baggage"]) > 0
}

// spanAttrs runs inside otelhttp's span and adds the correlation id to it.
func spanAttrs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetAttributes(attribute.String(AttrCorrelationID, httpx.CorrelationID(r.Context())))
		}
		defer noteRequest(r) // otelhttp's request copy, which the ServeMux saw
		next.ServeHTTP(w, r)
	})
}

func (t *Tracer) otelhttpOptions(server bool) []otelhttp.Option {
	opts := []otelhttp.Option{otelhttp.WithPropagators(t.cfg.propagators)}
	if t.cfg.tracerProvider != nil {
		opts = append(opts, otelhttp.WithTracerProvider(t.cfg.tracerProvider))
	}
	if t.cfg.meterProvider != nil {
		opts = append(opts, otelhttp.WithMeterProvider(t.cfg.meterProvider))
	}
	// Server spans keep otelhttp's own names, which follow OTel's HTTP
	// semantic conventions: "{method} {route}" from r.Pattern once the
	// ServeMux has routed, "{method}" otherwise, and "HTTP" for methods
	// outside RFC 9110, so a client cannot make names high-cardinality.
	if server && t.cfg.filter != nil {
		opts = append(opts, otelhttp.WithFilter(t.cfg.filter))
	}
	return opts
}

// Transport returns an http.RoundTripper that sends the request context's
// correlation id (header and baggage member correlation_id) and W3C
// traceparent/tracestate with every request, and with spans on, records a
// client span through otelhttp. A nil base means paved's default base
// transport (see paved.DefaultTransport).
//
// The context's correlation id replaces a correlation header already on
// the request (a reverse proxy copies the inbound one, which may be the
// invalid value Middleware replaced); without an id in the context the
// request's own header passes untouched. In the same way, when the
// context has a trace, traceparent and tracestate fields already on the
// request are replaced by exactly one of each, and without one, fields the
// Middleware refused (a duplicated or invalid traceparent) are removed
// (with the default propagators; see TraceContext). The caller's request
// is never modified.
//
// A nil *Tracer is Default().
func (t *Tracer) Transport(base http.RoundTripper) http.RoundTripper {
	if t == nil {
		t = defaultTracer
	}
	base = httpx.BaseTransport(base)
	rt := &transport{t: t, next: base, base: base, inject: !t.cfg.spans}
	if t.cfg.spans {
		// otelhttp injects the trace context and baggage itself.
		rt.next = otelhttp.NewTransport(base, t.otelhttpOptions(false)...)
	}
	return rt
}

type transport struct {
	t      *Tracer
	next   http.RoundTripper
	base   http.RoundTripper // next without otelhttp, which hides CloseIdleConnections
	inject bool              // propagate here, because otelhttp is off
}

func (rt *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	id := CorrelationID(ctx)
	if id == "" && !rt.inject {
		return rt.next.RoundTrip(r)
	}
	// A RoundTripper must not modify the caller's request: copy it and
	// its header before adding ours.
	r2 := r.WithContext(rt.t.Outgoing(ctx))
	r2.Header = r.Header.Clone()
	if r2.Header == nil {
		r2.Header = make(http.Header)
	}
	if id != "" {
		r2.Header[rt.t.cfg.header] = []string{id}
	}
	if rt.inject {
		rt.t.cfg.propagators.Inject(r2.Context(), headerCarrier(r2.Header))
	}
	return rt.next.RoundTrip(r2)
}

// CloseIdleConnections closes idle connections of the base transport.
func (rt *transport) CloseIdleConnections() {
	if c, ok := rt.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
