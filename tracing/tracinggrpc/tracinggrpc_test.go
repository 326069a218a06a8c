package tracinggrpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/tracing"
	"github.com/paved-go/paved/tracing/tracinggrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what the server's handler saw of a call.
type seen struct {
	id      string
	baggage string
	span    trace.SpanContext
	md      metadata.MD
}

type env struct {
	client healthpb.HealthClient
	plain  healthpb.HealthClient // a client without tracing: sends its metadata as is
	rec    *tracetest.SpanRecorder
	calls  chan seen
}

// start runs a real gRPC server with the health service on bufconn, with
// tracing on both sides, and a capture interceptor after tracing's.
func start(t *testing.T, opts ...tracing.Option) *env {
	t.Helper()
	return startWith(t, nil, opts...)
}

// startWith is start with more server options after tracing's own.
func startWith(t *testing.T, extra []grpc.ServerOption, opts ...tracing.Option) *env {
	t.Helper()
	return startIC(t, extra, nil, opts...)
}

// startIC is startWith with options for tracinggrpc.New.
func startIC(t *testing.T, extra []grpc.ServerOption, icOpts []tracinggrpc.Option, opts ...tracing.Option) *env {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr, err := tracing.New(append([]tracing.Option{tracing.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := tracinggrpc.New(tr, icOpts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{rec: rec, calls: make(chan seen, 4)}
	capture := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		e.calls <- seen{
			id:      tracing.CorrelationID(ctx),
			baggage: baggage.FromContext(ctx).Member(tracing.BaggageKey).Value(),
			span:    trace.SpanContextFromContext(ctx),
			md:      md,
		}
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(append(append(ic.ServerOptions(), extra...),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			capture(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			capture(ss.Context())
			return h(srv, ss)
		}),
	)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	dial := func(opts ...grpc.DialOption) healthpb.HealthClient {
		conn, err := grpc.NewClient("passthrough:///bufnet", append(opts,
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return healthpb.NewHealthClient(conn)
	}
	e.client = dial(ic.DialOptions()...)
	e.plain = dial()
	return e
}

func TestUnaryPropagation(t *testing.T) {
	e := start(t)
	ctx := tracing.WithCorrelationID(context.Background(), "grpc-abc")
	var header metadata.MD
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	s := <-e.calls
	if s.id != "grpc-abc" || s.baggage != "grpc-abc" {
		t.Errorf("server saw id %q, baggage %q", s.id, s.baggage)
	}
	if got := header.Get("x-correlation-id"); len(got) != 1 || got[0] != "grpc-abc" {
		t.Errorf("response header x-correlation-id = %q", got)
	}
	// Client and server spans share one trace, server a child of client.
	// The server ends its span after it sent the status, so the client can
	// get here first: wait for it.
	var client, server sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); ; {
		client, server = nil, nil
		for _, sp := range e.rec.Ended() {
			switch sp.SpanKind() {
			case trace.SpanKindClient:
				client = sp
			case trace.SpanKindServer:
				server = sp
			}
		}
		if client != nil && server != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans: %v", e.rec.Ended())
		}
		time.Sleep(time.Millisecond)
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || server.SpanContext().TraceID() != client.SpanContext().TraceID() {
		t.Error("server span is not a child of the client span")
	}
	if s.span.TraceID() != client.SpanContext().TraceID() {
		t.Error("handler context is not in the client's trace")
	}
	if server.Name() != "grpc.health.v1.Health/Check" {
		t.Errorf("server span name %q", server.Name())
	}
}

func TestStreamPropagation(t *testing.T) {
	e := start(t)
	ctx, cancel := context.WithCancel(tracing.WithCorrelationID(context.Background(), "stream-1"))
	defer cancel()
	stream, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	header, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	s := <-e.calls
	if s.id != "stream-1" || !s.span.IsValid() {
		t.Errorf("server saw id %q, span valid %v", s.id, s.span.IsValid())
	}
	if got := header.Get("x-correlation-id"); len(got) != 1 || got[0] != "stream-1" {
		t.Errorf("stream header x-correlation-id = %q", got)
	}
}

func TestServerGeneratesAndReplaces(t *testing.T) {
	e := start(t)
	tests := []struct {
		name string
		md   metadata.MD
		want string // "" means a fresh valid id
	}{
		{"absent", nil, ""},
		{"x-request-id fallback", metadata.Pairs("x-request-id", "req-5"), "req-5"},
		{"invalid replaced", metadata.Pairs("x-correlation-id", "bad id!"), ""},
		{"two values replaced", metadata.Pairs("x-correlation-id", "a", "x-correlation-id", "b"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(context.Background(), tc.md)
			var header metadata.MD
			if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			s := <-e.calls
			got := header.Get("x-correlation-id")
			if len(got) != 1 || got[0] != s.id || !tracing.ValidCorrelationID(s.id) {
				t.Fatalf("header %q, server id %q", got, s.id)
			}
			if tc.want != "" && s.id != tc.want {
				t.Fatalf("id %q, want %q", s.id, tc.want)
			}
			if tc.want == "" && (s.id == "bad id!" || s.id == "a" || s.id == "b") {
				t.Fatalf("rejected id %q kept", s.id)
			}
		})
	}
}

func TestSpansOff(t *testing.T) {
	e := start(t, tracing.WithSpans(false))
	// The caller's own span must still reach the server as its parent.
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("caller").Start(tracing.WithCorrelationID(context.Background(), "off-1"), "call")
	defer span.End()
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	s := <-e.calls
	if s.id != "off-1" {
		t.Errorf("server saw id %q", s.id)
	}
	if got := s.md.Get("traceparent"); len(got) != 1 || got[0][3:35] != span.SpanContext().TraceID().String() {
		t.Errorf("traceparent %q, want trace %s", got, span.SpanContext().TraceID())
	}
	if n := len(e.rec.Ended()); n != 0 {
		t.Errorf("spans off recorded %d spans", n)
	}
}

// TestClientReplacesCopiedMetadata checks that the context's correlation
// id replaces one already in the outgoing metadata, as a service that
// forwards its incoming metadata would copy the caller's (possibly
// invalid) one, with spans on and off.
func TestClientReplacesCopiedMetadata(t *testing.T) {
	for _, spans := range []bool{true, false} {
		e := start(t, tracing.WithSpans(spans))
		ctx := tracing.WithCorrelationID(context.Background(), "ctx-id")
		ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("x-correlation-id", "bad id!", "x-correlation-id", "other"))
		if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if s := <-e.calls; s.id != "ctx-id" || len(s.md.Get("x-correlation-id")) != 1 {
			t.Errorf("spans %v: server saw id %q, metadata %q, want the context's id once", spans, s.id, s.md.Get("x-correlation-id"))
		}
	}
}

// TestNestedServerInterceptorsOneHeader checks that a correlation id
// already resolved (by an outer tracing interceptor, or tracing.Middleware
// in front of grpc.Server.ServeHTTP) is not sent back a second time.
func TestNestedServerInterceptorsOneHeader(t *testing.T) {
	ic, err := tracinggrpc.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
	})
	ctx := tracing.WithCorrelationID(context.Background(), "once")
	var header metadata.MD
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	<-e.calls
	if got := header.Get("x-correlation-id"); len(got) != 1 || got[0] != "once" {
		t.Errorf("unary response header x-correlation-id = %q, want [once]", got)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := e.client.Watch(sctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	<-e.calls
	header, err = stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-correlation-id"); len(got) != 1 || got[0] != "once" {
		t.Errorf("stream response header x-correlation-id = %q, want [once]", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		tr      *tracing.Tracer
		opts    []tracinggrpc.Option
		wantErr bool
	}{
		{name: "nil tracer is the default", tr: nil},
		{name: "nil logger is the default", tr: tracing.Default(), opts: []tracinggrpc.Option{tracinggrpc.WithLogger(nil)}},
		{name: "nil option", tr: tracing.Default(), opts: []tracinggrpc.Option{nil}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ic, err := tracinggrpc.New(tc.tr, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "tracinggrpc: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if ic.UnaryServerInterceptor() == nil || ic.StreamServerInterceptor() == nil ||
				ic.UnaryClientInterceptor() == nil || ic.StreamClientInterceptor() == nil ||
				ic.ServerHandler() == nil || ic.ClientHandler() == nil ||
				len(ic.ServerOptions()) != 3 || len(ic.DialOptions()) != 3 {
				t.Fatal("missing interceptors or options")
			}
		})
	}
}

// TestWithLogger checks that a replaced correlation id is reported to the
// logger given to New.
func TestWithLogger(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := startIC(t, nil, []tracinggrpc.Option{tracinggrpc.WithLogger(logger)})
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-correlation-id", "bad id!"))
	if _, err := e.plain.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	<-e.calls
	if got := buf.String(); !strings.Contains(got, "replaced an invalid or repeated correlation id") || strings.Contains(got, "bad id!") {
		t.Fatalf("log %q: want the replacement reported without the bad value", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	w3cTraceID = "12345678901234567890123456789012"
	w3cParent  = "00-" + w3cTraceID + "-1234567890123456-01"
)

// TestTraceContextMetadata checks W3C Trace Context §3.2 and §3.3.1.1 on
// gRPC metadata, with spans on (otelgrpc reads it) and off (the
// interceptors do): repeated tracestate entries are one list, repeated
// traceparent entries start a new trace.
func TestTraceContextMetadata(t *testing.T) {
	other := "00-" + strings.Repeat("ab", 16) + "-1234567890123456-01"
	tests := []struct {
		name      string
		md        metadata.MD
		continued bool
		state     string
	}{
		{"one traceparent", metadata.Pairs("traceparent", w3cParent), true, ""},
		{"tracestate entries combined", metadata.Pairs("traceparent", w3cParent, "tracestate", "", "tracestate", "foo=1", "tracestate", "bar=2"), true, "foo=1,bar=2"},
		{"duplicate key across entries dropped", metadata.Pairs("traceparent", w3cParent, "tracestate", "foo=1", "tracestate", "foo=2"), true, ""},
		{"two traceparent entries restart", metadata.Pairs("traceparent", w3cParent, "traceparent", other, "tracestate", "foo=1"), false, ""},
	}
	for _, spans := range []bool{true, false} {
		e := start(t, tracing.WithSpans(spans))
		for _, tc := range tests {
			t.Run(fmt.Sprintf("spans %v/%s", spans, tc.name), func(t *testing.T) {
				ctx := metadata.NewOutgoingContext(context.Background(), tc.md)
				if _, err := e.plain.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					t.Fatal(err)
				}
				s := <-e.calls
				if got := s.span.TraceID().String() == w3cTraceID; got != tc.continued {
					t.Errorf("trace %s continued %v, want %v", s.span.TraceID(), got, tc.continued)
				}
				if got := s.span.TraceState().String(); got != tc.state {
					t.Errorf("tracestate %q, want %q", got, tc.state)
				}
			})
		}
	}
}

// TestClientDropsCopiedTraceContext checks that a service forwarding its
// incoming metadata sends one traceparent and tracestate, its own.
func TestClientDropsCopiedTraceContext(t *testing.T) {
	for _, spans := range []bool{true, false} {
		e := start(t, tracing.WithSpans(spans))
		tp := sdktrace.NewTracerProvider()
		defer tp.Shutdown(context.Background())
		ctx, span := tp.Tracer("caller").Start(context.Background(), "call")
		ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("traceparent", w3cParent, "traceparent", w3cParent, "tracestate", "stale=1"))
		if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		span.End()
		s := <-e.calls
		if got := s.md.Get("traceparent"); len(got) != 1 || got[0][3:35] != span.SpanContext().TraceID().String() {
			t.Errorf("spans %v: traceparent %q, want one of trace %s", spans, got, span.SpanContext().TraceID())
		}
		if got := s.md.Get("tracestate"); len(got) != 0 {
			t.Errorf("spans %v: stale tracestate %q sent", spans, got)
		}
	}
}

// TestClientDropsCopiedTraceContextNewTrace checks the same for a call
// that starts a trace (spans on, no trace in the caller's context): the
// copied tracestate must not ride along with the new traceparent.
func TestClientDropsCopiedTraceContextNewTrace(t *testing.T) {
	e := start(t)
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("traceparent", w3cParent, "tracestate", "stale=1"))
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	s := <-e.calls
	if got := s.md.Get("traceparent"); len(got) != 1 || got[0] == w3cParent {
		t.Errorf("traceparent %q, want the client span's", got)
	}
	if got := s.md.Get("tracestate"); len(got) != 0 {
		t.Errorf("stale tracestate %q sent", got)
	}
}
