package breakergrpc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/breakergrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a tiny hand-written service (no protoc needed): the request
// value is the number of the status code to answer with; 0 echoes it.
// The value "wait" makes Say wait until the call's context is done and
// answer its error, reporting on arrived that it is waiting.
type echo struct {
	hits    atomic.Int64
	arrived chan struct{}
}

const (
	sayMethod  = "/paved.test.Echo/Say"
	chatMethod = "/paved.test.Echo/Chat"
	target     = "passthrough:///bufnet"
)

func code(v string) codes.Code {
	n, _ := strconv.Atoi(v)
	return codes.Code(n)
}

func msg(c codes.Code) *wrapperspb.StringValue {
	return wrapperspb.String(strconv.Itoa(int(c)))
}

func (s *echo) say(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	s.hits.Add(1)
	if in.Value == "wait" {
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if c := code(in.Value); c != codes.OK {
		return nil, status.Error(c, "injected")
	}
	return in, nil
}

var chatDesc = grpc.StreamDesc{StreamName: "Chat", ServerStreams: true, ClientStreams: true,
	Handler: func(srv any, stream grpc.ServerStream) error {
		srv.(*echo).hits.Add(1)
		for {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			if c := code(in.Value); c != codes.OK {
				return status.Error(c, "injected")
			}
			if err := stream.SendMsg(in); err != nil {
				return err
			}
		}
	}}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "paved.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Say",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			s := srv.(*echo)
			if interceptor == nil {
				return s.say(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: sayMethod},
				func(ctx context.Context, req any) (any, error) { return s.say(ctx, req.(*wrapperspb.StringValue)) })
		}}},
	Streams: []grpc.StreamDesc{chatDesc},
}

// start runs the echo service on bufconn and returns a client connection.
func start(t *testing.T, srvOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) (*echo, *grpc.ClientConn) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(srvOpts...)
	e := &echo{arrived: make(chan struct{}, 1)}
	srv.RegisterService(&echoDesc, e)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(target, append(dialOpts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return e, conn
}

func say(ctx context.Context, conn *grpc.ClientConn, c codes.Code, opts ...grpc.CallOption) error {
	return conn.Invoke(ctx, sayMethod, msg(c), new(wrapperspb.StringValue), opts...)
}

func chat(ctx context.Context, conn *grpc.ClientConn) (grpc.ClientStream, error) {
	return conn.NewStream(ctx, &chatDesc, chatMethod)
}

// chatOnce sends one message, reads the answer, and ends the stream.
func chatOnce(ctx context.Context, conn *grpc.ClientConn, c codes.Code) error {
	s, err := chat(ctx, conn)
	if err != nil {
		return err
	}
	_ = s.SendMsg(msg(c)) // io.EOF when the stream already ended: the status follows
	if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		return err
	}
	_ = s.CloseSend()
	if err := s.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func newRegistry(t *testing.T, opts ...breaker.Option) *breaker.Registry {
	t.Helper()
	r, err := breaker.NewRegistry(append([]breaker.Option{breaker.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newInterceptors(t *testing.T, reg *breaker.Registry, opts ...breakergrpc.Option) *breakergrpc.Interceptors {
	t.Helper()
	ic, err := breakergrpc.New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

// checkRejected asserts what a client sees for a rejected call: code
// Unavailable, the breaker's message and a RetryInfo of at most 30s.
func checkRejected(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || st.Message() != "breaker: open" {
		t.Fatalf("rejection = %v, want Unavailable \"breaker: open\"", err)
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay <= 0 || delay > 30*time.Second {
		t.Fatalf("RetryInfo delay %v, want (0, 30s]", delay)
	}
}

func checkPushback(t *testing.T, md metadata.MD) {
	t.Helper()
	v := md.Get("grpc-retry-pushback-ms")
	if len(v) != 1 {
		t.Fatalf("trailer %v has no grpc-retry-pushback-ms", md)
	}
	if ms, err := strconv.Atoi(v[0]); err != nil || ms < 1 || ms > 30000 {
		t.Fatalf("grpc-retry-pushback-ms = %q", v[0])
	}
}

func TestServerInterceptors(t *testing.T) {
	reg := newRegistry(t, breaker.WithConsecutiveFailures(2))
	ic := newInterceptors(t, reg)
	e, conn := start(t, []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
	})
	ctx := context.Background()

	t.Run("unary", func(t *testing.T) {
		for _, c := range []codes.Code{codes.NotFound, codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.OK} {
			if err := say(ctx, conn, c); status.Code(err) != c {
				t.Fatalf("call answered %v, want %v", err, c)
			}
		}
		if st := reg.Get(sayMethod).State(); st != breaker.StateClosed {
			t.Fatalf("client errors opened the breaker: %v", st)
		}
		_ = say(ctx, conn, codes.Internal)
		_ = say(ctx, conn, codes.Internal)
		hits := e.hits.Load()
		var trailer metadata.MD
		err := say(ctx, conn, codes.OK, grpc.Trailer(&trailer))
		checkRejected(t, err)
		checkPushback(t, trailer)
		if e.hits.Load() != hits {
			t.Fatal("a rejected call reached the handler")
		}
	})
	t.Run("stream", func(t *testing.T) {
		if err := chatOnce(ctx, conn, codes.OK); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := chatOnce(ctx, conn, codes.Unavailable); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "injected" {
				t.Fatalf("stream answered %v", err)
			}
		}
		hits := e.hits.Load()
		s, err := chat(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.SendMsg(msg(codes.OK))
		checkRejected(t, s.RecvMsg(new(wrapperspb.StringValue)))
		checkPushback(t, s.Trailer())
		if e.hits.Load() != hits {
			t.Fatal("a rejected stream reached the handler")
		}
		if st := reg.Get(sayMethod).State(); st != breaker.StateOpen {
			t.Fatalf("unary breaker %v: each method has its own", st)
		}
	})
}

func TestClientInterceptors(t *testing.T) {
	reg := newRegistry(t, breaker.WithConsecutiveFailures(2))
	ic := newInterceptors(t, reg, breakergrpc.WithKey(func(_ context.Context, m string) string { return m }))
	e, conn := start(t, nil,
		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()))
	ctx := context.Background()

	t.Run("unary", func(t *testing.T) {
		_ = say(ctx, conn, codes.DeadlineExceeded)
		_ = say(ctx, conn, codes.ResourceExhausted)
		hits := e.hits.Load()
		err := say(ctx, conn, codes.OK)
		checkRejected(t, err)
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("%v does not unwrap to breaker.ErrOpen", err)
		}
		if e.hits.Load() != hits {
			t.Fatal("a rejected call was sent")
		}
	})
	t.Run("stream", func(t *testing.T) {
		b := reg.Get(chatMethod)
		if err := chatOnce(ctx, conn, codes.OK); err != nil {
			t.Fatal(err)
		}
		if c := b.Counts(); c != (breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}) {
			t.Fatalf("after a good stream: %+v", c)
		}
		// A stream the caller cancels is ignored.
		cctx, cancel := context.WithCancel(ctx)
		s, err := chat(cctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := s.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Canceled {
			t.Fatalf("canceled stream: %v", err)
		}
		if c := b.Counts(); c.Calls != 1 {
			t.Fatalf("a canceled stream counted: %+v", c)
		}
		for range 2 {
			if err := chatOnce(ctx, conn, codes.Internal); status.Code(err) != codes.Internal {
				t.Fatalf("stream answered %v", err)
			}
		}
		hits := e.hits.Load()
		_, err = chat(ctx, conn)
		checkRejected(t, err)
		if !errors.Is(err, breaker.ErrOpen) || e.hits.Load() != hits {
			t.Fatalf("rejected stream: %v, sent %d", err, e.hits.Load()-hits)
		}
	})
}

// TestClientFailureCodes sends one call per code through a fresh client
// breaker and checks how it counted: 5xx equivalents and
// ResourceExhausted (429) fail, as in breaker.Transport.
func TestClientFailureCodes(t *testing.T) {
	tests := []struct {
		name   string
		opts   []breakergrpc.Option
		code   codes.Code
		cancel bool
		want   breaker.Counts
	}{
		{"unavailable", nil, codes.Unavailable, false, failed},
		{"deadline exceeded", nil, codes.DeadlineExceeded, false, failed},
		{"internal", nil, codes.Internal, false, failed},
		{"unknown", nil, codes.Unknown, false, failed},
		{"data loss", nil, codes.DataLoss, false, failed},
		{"unimplemented", nil, codes.Unimplemented, false, failed},
		{"resource exhausted", nil, codes.ResourceExhausted, false, failed},
		{"invalid argument", nil, codes.InvalidArgument, false, succeeded},
		{"not found", nil, codes.NotFound, false, succeeded},
		{"permission denied", nil, codes.PermissionDenied, false, succeeded},
		{"unauthenticated", nil, codes.Unauthenticated, false, succeeded},
		{"ok", nil, codes.OK, false, succeeded},
		{"canceled by the caller", nil, codes.OK, true, breaker.Counts{}},
		{"canceled answered", nil, codes.Canceled, false, breaker.Counts{}},
		{"custom: not found fails", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.NotFound)}, codes.NotFound, false, failed},
		{"custom: internal succeeds", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.NotFound)}, codes.Internal, false, succeeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			_, conn := start(t, nil, grpc.WithChainUnaryInterceptor(newInterceptors(t, reg, tc.opts...).UnaryClientInterceptor()))
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			_ = say(ctx, conn, tc.code)
			cancel()
			if c := reg.Get(target).Counts(); c != tc.want {
				t.Fatalf("counts %+v, want %+v", c, tc.want)
			}
		})
	}
}

// TestServerOutcomes checks how a handler's call counts on the server:
// as its HTTP equivalent counts in breaker.Middleware (5xx fail; 429 and
// other 4xx do not, so one rate-limited client cannot open a method for
// everyone), and a call whose client is gone, canceled or past its
// deadline, is ignored whatever the handler answered.
func TestServerOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		opts  []breakergrpc.Option
		value string        // the request: a code number, or "wait"
		limit time.Duration // > 0: the client's deadline
		hangs bool          // the client cancels once the handler waits
		want  breaker.Counts
	}{
		{"unavailable", nil, "14", 0, false, failed},
		{"internal", nil, "13", 0, false, failed},
		{"unknown", nil, "2", 0, false, failed},
		{"data loss", nil, "15", 0, false, failed},
		{"unimplemented", nil, "12", 0, false, failed},
		{"handler's own deadline exceeded", nil, "4", 0, false, failed},
		{"resource exhausted", nil, "8", 0, false, succeeded},
		{"invalid argument", nil, "3", 0, false, succeeded},
		{"not found", nil, "5", 0, false, succeeded},
		{"failed precondition", nil, "9", 0, false, succeeded},
		{"aborted", nil, "10", 0, false, succeeded},
		{"unauthenticated", nil, "16", 0, false, succeeded},
		{"canceled answered to a live client", nil, "1", 0, false, succeeded},
		{"ok", nil, "0", 0, false, succeeded},
		{"client canceled", nil, "wait", 0, true, breaker.Counts{}},
		{"client deadline passed", nil, "wait", 50 * time.Millisecond, false, breaker.Counts{}},
		{"custom: resource exhausted fails", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.ResourceExhausted)}, "8", 0, false, failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			ended := make(chan struct{}, 1) // the breaker's interceptor returned
			signal := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				defer func() { ended <- struct{}{} }()
				return h(ctx, req)
			}
			e, conn := start(t, []grpc.ServerOption{grpc.ChainUnaryInterceptor(signal, newInterceptors(t, reg, tc.opts...).UnaryServerInterceptor())})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.limit > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.limit)
				defer cancel()
			}
			errc := make(chan error, 1)
			go func() {
				errc <- conn.Invoke(ctx, sayMethod, wrapperspb.String(tc.value), new(wrapperspb.StringValue))
			}()
			if tc.hangs {
				<-e.arrived
				cancel()
			}
			<-ended
			<-errc
			if c := reg.Get(sayMethod).Counts(); c != tc.want {
				t.Fatalf("counts %+v, want %+v", c, tc.want)
			}
		})
	}
}

// TestServerRateLimitedClientDoesNotOpenTheMethod is the case:
// one client answered ResourceExhausted over and over (by a rate limiter
// in the handler) must not open the method for the next client.
func TestServerRateLimitedClientDoesNotOpenTheMethod(t *testing.T) {
	reg := newRegistry(t)
	ic := newInterceptors(t, reg)
	_, conn := start(t, []grpc.ServerOption{grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor())})
	ctx := context.Background()
	for range 20 {
		if err := say(ctx, conn, codes.ResourceExhausted); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("limited call: %v", err)
		}
	}
	if err := say(ctx, conn, codes.OK); err != nil {
		t.Fatalf("next client after 20 limited calls: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []breakergrpc.Option
		wantErr string
	}{
		{"no failure codes", []breakergrpc.Option{breakergrpc.WithFailureCodes()}, "breakergrpc: WithFailureCodes: no codes"},
		{"ok as a failure", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.Internal, codes.OK)}, "breakergrpc: WithFailureCodes: OK cannot be a failure"},
		{"undefined code", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.Code(17))}, "breakergrpc: WithFailureCodes: Code(17) cannot be a failure"},
		{"code out of range", []breakergrpc.Option{breakergrpc.WithFailureCodes(codes.Code(99))}, "breakergrpc: WithFailureCodes: Code(99) cannot be a failure"},
		{"nil key", []breakergrpc.Option{breakergrpc.WithKey(nil)}, "breakergrpc: WithKey: nil function"},
		{"first error wins", []breakergrpc.Option{breakergrpc.WithKey(nil), breakergrpc.WithFailureCodes()}, "breakergrpc: WithKey"},
		{"nil option", []breakergrpc.Option{nil}, "breakergrpc: option 0 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ic, err := breakergrpc.New(nil, tc.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, %v; want an error starting %q", ic, err, tc.wantErr)
			}
		})
	}
}

var (
	failed    = breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}
	succeeded = breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}
)

// TestNilRegistry: New(nil) serves with default breakers, one per method
// on the server: ten failures of one method open it, not the others.
func TestNilRegistry(t *testing.T) {
	ic := newInterceptors(t, nil)
	e, conn := start(t, []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
	})
	ctx := context.Background()
	for range 10 {
		_ = say(ctx, conn, codes.Internal)
	}
	hits := e.hits.Load()
	checkRejected(t, say(ctx, conn, codes.OK))
	if e.hits.Load() != hits {
		t.Fatal("a rejected call reached the handler")
	}
	if err := chatOnce(ctx, conn, codes.OK); err != nil {
		t.Fatalf("the stream method has its own breaker: %v", err)
	}
}

// TestStreamClientEndsWhenConnCloses: closing the ClientConn is one of
// gRPC's ways to end a stream. The stream's breaker call must end with it,
// as ignored (the caller gave up), instead of holding a goroutine and the
// half-open breaker's only probe for ever. synctest also fails the test if
// any goroutine is left when it ends.
func TestStreamClientEndsWhenConnCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := newRegistry(t, breaker.WithConsecutiveFailures(1), breaker.WithHalfOpenProbes(1))
		lis := bufconn.Listen(1 << 20)
		srv := grpc.NewServer()
		srv.RegisterService(&echoDesc, &echo{})
		go func() { _ = srv.Serve(lis) }()
		defer srv.Stop()
		dial := func() *grpc.ClientConn {
			conn, err := grpc.NewClient(target,
				grpc.WithStreamInterceptor(newInterceptors(t, reg).StreamClientInterceptor()),
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			return conn
		}
		ctx := context.Background()
		conn := dial()
		if err := chatOnce(ctx, conn, codes.Internal); status.Code(err) != codes.Internal {
			t.Fatalf("failing stream: %v", err)
		}
		time.Sleep(30 * time.Second) // half-open: one probe
		s, err := chat(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(msg(codes.OK)); err != nil {
			t.Fatal(err)
		}
		if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
			t.Fatal(err)
		}
		_ = conn.Close() // ends the probe stream, unread
		synctest.Wait()

		b := reg.Get(target)
		if st, c := b.State(), b.Counts(); st != breaker.StateHalfOpen || c != (breaker.Counts{}) {
			t.Fatalf("after the conn closed: %v %+v, want half_open and the probe ignored", st, c)
		}
		conn2 := dial()
		defer conn2.Close()
		if err := chatOnce(ctx, conn2, codes.OK); err != nil {
			if errors.Is(err, breaker.ErrTooManyRequests) {
				t.Fatalf("the probe of the closed conn still holds the breaker: %v", err)
			}
			t.Fatal(err)
		}
		if st := b.State(); st != breaker.StateClosed {
			t.Fatalf("after a good probe: %v", st)
		}
	})
}

// TestUnaryClientOnClosedConnIsIgnored: a call on a ClientConn the caller
// closed never reached the peer, so it must not count as a success (which
// would let it close a half-open breaker).
func TestUnaryClientOnClosedConnIsIgnored(t *testing.T) {
	reg := newRegistry(t)
	_, conn := start(t, nil, grpc.WithChainUnaryInterceptor(newInterceptors(t, reg).UnaryClientInterceptor()))
	_ = conn.Close()
	if err := say(context.Background(), conn, codes.OK); status.Code(err) != codes.Canceled {
		t.Fatalf("call on a closed conn: %v", err)
	}
	if c := reg.Get(target).Counts(); c != (breaker.Counts{}) {
		t.Fatalf("counts %+v, want none", c)
	}
}
