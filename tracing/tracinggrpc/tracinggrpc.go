// Package tracinggrpc brings package tracing to gRPC: correlation ids in
// metadata, W3C trace context and OTel spans and metrics through otelgrpc.
//
//	tr := tracing.Default()
//	srv := grpc.NewServer(tracinggrpc.ServerOptions(tr)...)
//	conn, err := grpc.NewClient(target, append(tracinggrpc.DialOptions(tr), creds)...)
//
// The server side reads the correlation id from the x-correlation-id
// metadata (the Tracer's header, lower-cased; x-request-id as a fallback),
// replaces an invalid one, stores it in the context and returns it in the
// response header metadata. The client side sends the context's
// correlation id as metadata (replacing one already there, as
// tracing.Transport does) and as the correlation_id baggage member.
// Spans come from otelgrpc's stats handlers, not interceptors, as otelgrpc
// recommends; with spans off only correlation ids and propagation remain.
package tracinggrpc

import (
	"context"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/paved-go/paved/tracing"
)

const requestIDKey = "x-request-id"

func orDefault(tr *tracing.Tracer) *tracing.Tracer {
	if tr == nil {
		return tracing.Default()
	}
	return tr
}

func mdKey(tr *tracing.Tracer) string { return strings.ToLower(tr.Header()) }

// ServerOptions returns everything a grpc.Server needs for tracing: the
// otelgrpc server stats handler (when spans are on) and the correlation
// interceptors. A nil tr means tracing.Default().
func ServerOptions(tr *tracing.Tracer) []grpc.ServerOption {
	tr = orDefault(tr)
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(tr)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(tr)),
	}
	if tr.SpansEnabled() {
		opts = append(opts, grpc.StatsHandler(ServerHandler(tr)))
	}
	return opts
}

// DialOptions returns everything a client connection needs for tracing:
// the otelgrpc client stats handler (when spans are on) and the
// correlation interceptors. A nil tr means tracing.Default().
func DialOptions(tr *tracing.Tracer) []grpc.DialOption {
	tr = orDefault(tr)
	opts := []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(tr)),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor(tr)),
	}
	if tr.SpansEnabled() {
		opts = append(opts, grpc.WithStatsHandler(ClientHandler(tr)))
	}
	return opts
}

func otelOptions(tr *tracing.Tracer) []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(tr.TracerProvider()),
		otelgrpc.WithMeterProvider(tr.MeterProvider()),
		otelgrpc.WithPropagators(tr.Propagators()),
	}
}

// ServerHandler returns otelgrpc's server stats handler configured like tr:
// server spans, RPC metrics and extraction of the caller's trace context.
func ServerHandler(tr *tracing.Tracer) stats.Handler {
	return otelgrpc.NewServerHandler(otelOptions(orDefault(tr))...)
}

// ClientHandler returns otelgrpc's client stats handler configured like tr:
// client spans, RPC metrics and injection of trace context and baggage.
func ClientHandler(tr *tracing.Tracer) stats.Handler {
	return otelgrpc.NewClientHandler(otelOptions(orDefault(tr))...)
}

// incoming resolves the call's correlation id and stores it in ctx. When
// ctx has one already (an outer interceptor, or tracing.Middleware in front
// of grpc.Server.ServeHTTP, did the work and answered with it), it returns
// ctx as is and "": the id must not be sent back twice.
func incoming(ctx context.Context, tr *tracing.Tracer, key string) (context.Context, string) {
	if tracing.CorrelationID(ctx) != "" {
		return ctx, ""
	}
	md, _ := metadata.FromIncomingContext(ctx)
	primary := md.Get(key)
	var fallback []string
	if len(primary) == 0 {
		fallback = md.Get(requestIDKey)
	}
	id, _ := tr.Incoming(primary, fallback)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String(tracing.AttrCorrelationID, id))
	}
	return tracing.WithCorrelationID(ctx, id), id
}

// UnaryServerInterceptor gives each unary call a correlation id (see the
// package documentation) and returns it in the response header metadata.
func UnaryServerInterceptor(tr *tracing.Tracer) grpc.UnaryServerInterceptor {
	tr = orDefault(tr)
	key := mdKey(tr)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, id := incoming(ctx, tr, key)
		if id != "" {
			_ = grpc.SetHeader(ctx, metadata.Pairs(key, id))
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor gives each streaming call a correlation id and
// returns it in the response header metadata.
func StreamServerInterceptor(tr *tracing.Tracer) grpc.StreamServerInterceptor {
	tr = orDefault(tr)
	key := mdKey(tr)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, id := incoming(ss.Context(), tr, key)
		if id == "" {
			return handler(srv, ss)
		}
		_ = ss.SetHeader(metadata.Pairs(key, id))
		return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
	}
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// outgoing adds the correlation id to the outgoing metadata and baggage,
// and the trace context when otelgrpc is not there to do it. The
// context's id replaces one already in the metadata: a service that
// forwards its incoming metadata copies the caller's, which may be the
// invalid value the server side replaced.
func outgoing(ctx context.Context, tr *tracing.Tracer, key string) context.Context {
	id := tracing.CorrelationID(ctx)
	if id == "" && tr.SpansEnabled() {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	if id != "" {
		md.Set(key, id)
	}
	ctx = tr.Outgoing(ctx)
	if !tr.SpansEnabled() {
		tr.Propagators().Inject(ctx, carrier(md))
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryClientInterceptor sends the context's correlation id with each
// unary call.
func UnaryClientInterceptor(tr *tracing.Tracer) grpc.UnaryClientInterceptor {
	tr = orDefault(tr)
	key := mdKey(tr)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(outgoing(ctx, tr, key), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor sends the context's correlation id with each
// streaming call.
func StreamClientInterceptor(tr *tracing.Tracer) grpc.StreamClientInterceptor {
	tr = orDefault(tr)
	key := mdKey(tr)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(outgoing(ctx, tr, key), desc, cc, method, opts...)
	}
}

// carrier adapts gRPC metadata to a propagation.TextMapCarrier.
type carrier metadata.MD

func (c carrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c carrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
