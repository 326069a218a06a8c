package tracing

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracer carries one tracing configuration to HTTP middleware, HTTP
// transports and (through tracinggrpc) gRPC interceptors. It is safe for
// concurrent use. The zero value is not usable; call New.
type Tracer struct {
	cfg config
}

// New returns a Tracer configured by opts. It fails on an invalid option
// (a bad header name, a nil Option or propagator).
func New(opts ...Option) (*Tracer, error) {
	cfg, err := newConfig(opts...)
	if err != nil {
		return nil, err
	}
	return &Tracer{cfg: cfg}, nil
}

var defaultTracer = func() *Tracer {
	t, _ := New()
	return t
}()

// Default returns the Tracer the package-level Middleware and Transport
// use: default options, global providers.
func Default() *Tracer { return defaultTracer }

// Header returns the canonical name of the correlation header.
func (t *Tracer) Header() string { return t.cfg.header }

// SpansEnabled reports whether the Tracer creates spans.
func (t *Tracer) SpansEnabled() bool { return t.cfg.spans }

// TracerProvider returns the configured TracerProvider, or the global one.
func (t *Tracer) TracerProvider() trace.TracerProvider { return t.cfg.tp() }

// MeterProvider returns the configured MeterProvider, or the global one.
func (t *Tracer) MeterProvider() metric.MeterProvider { return t.cfg.mp() }

// Propagators returns the propagator used on the wire (W3C by default).
func (t *Tracer) Propagators() propagation.TextMapPropagator { return t.cfg.propagators }

// Incoming returns the correlation id to use for a request whose
// correlation header has the values primary and, as a fallback, the
// X-Request-ID values fallback. It returns the single valid value given,
// or a new id when none was given, more than one was, or it is invalid:
// a bad id is replaced, never echoed. fresh reports a new id.
func (t *Tracer) Incoming(primary, fallback []string) (id string, fresh bool) {
	vals, fresh := t.correlationValues(primary, fallback)
	return vals[0], fresh
}

// Outgoing returns ctx with the correlation id it carries added to its
// OTel baggage (member BaggageKey), so the id reaches downstream services
// through the propagator too. It returns ctx unchanged when there is no
// id or the baggage already has it.
func (t *Tracer) Outgoing(ctx context.Context) context.Context {
	id := CorrelationID(ctx)
	if id == "" {
		return ctx
	}
	bag := baggage.FromContext(ctx)
	if bag.Member(BaggageKey).Value() == id {
		return ctx
	}
	m, err := baggage.NewMemberRaw(BaggageKey, id)
	if err != nil {
		return ctx
	}
	bag, err = bag.SetMember(m)
	if err != nil {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, bag)
}
