// Package tracinggrpc brings package tracing to gRPC: correlation ids in
// metadata, W3C trace context and OTel spans and metrics through otelgrpc.
//
//	ic, err := tracinggrpc.New(nil) // nil: tracing.Default()
//	if err != nil { ... }
//	srv := grpc.NewServer(ic.ServerOptions()...)
//	conn, err := grpc.NewClient(target, append(ic.DialOptions(), creds)...)
//
// New takes the *tracing.Tracer whose configuration (correlation header,
// spans on or off, providers, propagators) the interceptors share with
// the HTTP middleware and transports; a nil Tracer is tracing.Default().
// ServerOptions and DialOptions bundle everything; the four interceptors
// and the two otelgrpc stats handlers are there one by one for servers
// and clients that chain their own.
//
// The server side reads the correlation id from the x-correlation-id
// metadata (the Tracer's header, lower-cased; x-request-id as a fallback),
// replaces an invalid one, stores it in the context and returns it in the
// response header metadata. The client side sends the context's
// correlation id as metadata (replacing one already there, as
// tracing.Transport does) and as the correlation_id baggage member.
//
// Spans come from otelgrpc's stats handlers, not interceptors, as otelgrpc
// recommends. Trace context is read with tracing.TraceContext's rules
// (several tracestate values combined into one list, several traceparent
// values starting a new trace) from all of the metadata's values, which
// otelgrpc alone does not see. With spans off, the server interceptors
// still read the caller's trace context and baggage, and the client
// interceptors send the context's on, so a service that does not trace
// does not break its callers' traces.
package tracinggrpc
