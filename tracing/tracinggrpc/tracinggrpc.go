package tracinggrpc

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/paved-go/paved/tracing"
)

const requestIDKey = "x-request-id"

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger *slog.Logger
}

// WithLogger sets the logger for the interceptors' own messages, such as
// a caller's invalid correlation id being replaced. nil, the default,
// means the Tracer's logger: slog.Default() at the time of logging unless
// tracing.WithLogger set another.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// Interceptors carries one Tracer's configuration to gRPC servers and
// clients. It is safe for concurrent use. The zero value is not usable;
// call New.
type Interceptors struct {
	tr     *tracing.Tracer
	key    string // the correlation header as a metadata key
	spans  bool
	prop   propagation.TextMapPropagator // reads all metadata values
	logger *slog.Logger
}

// New returns the interceptors and stats handlers for tr (nil means
// tracing.Default()). It fails on a nil Option.
func New(tr *tracing.Tracer, opts ...Option) (*Interceptors, error) {
	if tr == nil {
		tr = tracing.Default()
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("tracinggrpc: nil Option")
		}
		o.apply(&cfg)
	}
	return &Interceptors{
		tr:     tr,
		key:    strings.ToLower(tr.Header()),
		spans:  tr.SpansEnabled(),
		prop:   mdPropagator{tr.Propagators()},
		logger: cfg.logger,
	}, nil
}

// ServerOptions returns everything a grpc.Server needs for tracing: the
// otelgrpc server stats handler (when spans are on) and the correlation
// interceptors.
func (ic *Interceptors) ServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
	}
	if ic.spans {
		opts = append(opts, grpc.StatsHandler(ic.ServerHandler()))
	}
	return opts
}

// DialOptions returns everything a client connection needs for tracing:
// the otelgrpc client stats handler (when spans are on) and the
// correlation interceptors.
func (ic *Interceptors) DialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()),
	}
	if ic.spans {
		opts = append(opts, grpc.WithStatsHandler(ic.ClientHandler()))
	}
	return opts
}

func (ic *Interceptors) otelOptions() []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(ic.tr.TracerProvider()),
		otelgrpc.WithMeterProvider(ic.tr.MeterProvider()),
		otelgrpc.WithPropagators(ic.prop),
	}
}

// ServerHandler returns otelgrpc's server stats handler configured like
// the Tracer: server spans, RPC metrics and extraction of the caller's
// trace context from all of the metadata's values.
func (ic *Interceptors) ServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(ic.otelOptions()...)
}

// ClientHandler returns otelgrpc's client stats handler configured like
// the Tracer: client spans, RPC metrics and injection of trace context
// and baggage.
func (ic *Interceptors) ClientHandler() stats.Handler {
	return otelgrpc.NewClientHandler(ic.otelOptions()...)
}

// incoming resolves the call's correlation id and stores it in ctx. When
// ctx has one already (an outer interceptor, or tracing.Middleware in front
// of grpc.Server.ServeHTTP, did the work and answered with it), it returns
// ctx as is and "": the id must not be sent back twice. With spans off it
// also reads the caller's trace context, which otelgrpc reads otherwise.
func (ic *Interceptors) incoming(ctx context.Context) (context.Context, string) {
	if tracing.CorrelationID(ctx) != "" {
		return ctx, ""
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if !ic.spans {
		ctx = ic.tr.Propagators().Extract(ctx, carrier(md))
	}
	primary := md.Get(ic.key)
	var fallback []string
	if len(primary) == 0 {
		fallback = md.Get(requestIDKey)
	}
	var id string
	if ic.logger == nil {
		id, _ = ic.tr.Incoming(primary, fallback)
	} else {
		id = ic.resolve(ctx, primary, fallback)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String(tracing.AttrCorrelationID, id))
	}
	return tracing.WithCorrelationID(ctx, id), id
}

// resolve is tracing.Tracer.Incoming reporting to the interceptors' own
// logger.
func (ic *Interceptors) resolve(ctx context.Context, primary, fallback []string) string {
	vals := primary
	if len(vals) == 0 {
		vals = fallback
	}
	if len(vals) == 1 && tracing.ValidCorrelationID(vals[0]) {
		return vals[0]
	}
	if len(vals) > 0 {
		ic.logger.DebugContext(ctx, "tracinggrpc: replaced an invalid or repeated correlation id",
			"metadata_values", len(vals))
	}
	return tracing.NewCorrelationID()
}

// UnaryServerInterceptor gives each unary call a correlation id (see the
// package documentation) and returns it in the response header metadata.
func (ic *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, id := ic.incoming(ctx)
		if id != "" {
			_ = grpc.SetHeader(ctx, metadata.Pairs(ic.key, id))
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor gives each streaming call a correlation id and
// returns it in the response header metadata.
func (ic *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, id := ic.incoming(ss.Context())
		if id == "" {
			return handler(srv, ss)
		}
		_ = ss.SetHeader(metadata.Pairs(ic.key, id))
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
// invalid value the server side replaced. For the same reason, trace
// context fields copied from the caller are dropped when trace context
// goes out from ctx (spans on, or ctx has a trace), so only that one is
// sent.
func (ic *Interceptors) outgoing(ctx context.Context) context.Context {
	id := tracing.CorrelationID(ctx)
	// Trace context goes out from ctx: with spans on, otelgrpc's client
	// span; with spans off, ctx's own trace, if any.
	replaced := ic.spans || trace.SpanContextFromContext(ctx).IsValid()
	stale := replaced && (len(metadata.ValueFromOutgoingContext(ctx, "traceparent")) > 0 ||
		len(metadata.ValueFromOutgoingContext(ctx, "tracestate")) > 0)
	if id == "" && ic.spans && !stale {
		return ctx
	}
	md, ok := metadata.FromOutgoingContext(ctx) // a copy
	if !ok {
		md = metadata.MD{}
	}
	if id != "" {
		md.Set(ic.key, id)
	}
	if replaced {
		md.Delete("traceparent")
		md.Delete("tracestate")
	}
	ctx = ic.tr.Outgoing(ctx)
	if !ic.spans {
		ic.tr.Propagators().Inject(ctx, carrier(md))
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryClientInterceptor sends the context's correlation id with each
// unary call.
func (ic *Interceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(ic.outgoing(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor sends the context's correlation id with each
// streaming call.
func (ic *Interceptors) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(ic.outgoing(ctx), desc, cc, method, opts...)
	}
}

// carrier adapts gRPC metadata to a propagation.TextMapCarrier that also
// gives every value of a key (propagation.ValuesGetter), so repeated
// traceparent and tracestate entries are seen.
type carrier metadata.MD

func (c carrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c carrier) Values(key string) []string { return metadata.MD(c).Get(key) }

func (c carrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// mdPropagator extracts from the call's whole incoming metadata instead of
// the carrier otelgrpc passes, which gives only the first value of a key.
// Injection is otelgrpc's.
type mdPropagator struct{ propagation.TextMapPropagator }

func (p mdPropagator) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		c = carrier(md)
	}
	return p.TextMapPropagator.Extract(ctx, c)
}
