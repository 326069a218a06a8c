package retrygrpc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
	"github.com/paved-go/paved/retry/retrygrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failing makes the server fail the first n calls with err (and the
// pushback trailer, when not empty).
type failing struct {
	n        int32
	err      error
	pushback string
	calls    atomic.Int32
}

func (f *failing) fail(setTrailer func(metadata.MD)) error {
	if f.calls.Add(1) > f.n {
		return nil
	}
	if f.pushback != "" {
		setTrailer(metadata.Pairs("grpc-retry-pushback-ms", f.pushback))
	}
	return f.err
}

func start(t *testing.T, f *failing, r *retry.Retrier, opts ...retrygrpc.Option) healthpb.HealthClient {
	t.Helper()
	ic := mustInterceptors(t, r, opts...)
	return dial(t, serve(t, f),
		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()))
}

func mustInterceptors(t *testing.T, r *retry.Retrier, opts ...retrygrpc.Option) *retrygrpc.Interceptors {
	t.Helper()
	ic, err := retrygrpc.New(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

// serve starts a health server failing as f says.
func serve(t *testing.T, f *failing) *bufconn.Listener {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := f.fail(func(md metadata.MD) { grpc.SetTrailer(ctx, md) }); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := f.fail(ss.SetTrailer); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis
}

// dial connects a health client to lis with the interceptors in opts.
func dial(t *testing.T, lis *bufconn.Listener, opts ...grpc.DialOption) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///bufnet", append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func newRetrier(t *testing.T, opts ...retry.Option) *retry.Retrier {
	t.Helper()
	r, err := retry.New("test", append([]retry.Option{retry.WithBudget(nil), retry.WithBackoff(retry.Constant(time.Millisecond))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withRetryInfo(c codes.Code, d time.Duration) error {
	st, _ := status.New(c, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	return st.Err()
}

func TestUnary(t *testing.T) {
	tests := []struct {
		name      string
		f         *failing
		opts      []retrygrpc.Option
		wantCalls int32
		wantCode  codes.Code
	}{
		{"unavailable twice then ok", &failing{n: 2, err: status.Error(codes.Unavailable, "down")}, nil, 3, codes.OK},
		{"unavailable always", &failing{n: 100, err: status.Error(codes.Unavailable, "down")}, nil, 3, codes.Unavailable},
		{"not found not retried", &failing{n: 1, err: status.Error(codes.NotFound, "no")}, nil, 1, codes.NotFound},
		{"internal not retried", &failing{n: 1, err: status.Error(codes.Internal, "bug")}, nil, 1, codes.Internal},
		{"resource exhausted without hint not retried", &failing{n: 1, err: status.Error(codes.ResourceExhausted, "quota")}, nil, 1, codes.ResourceExhausted},
		{"resource exhausted with pushback retried", &failing{n: 1, err: status.Error(codes.ResourceExhausted, "quota"), pushback: "5"}, nil, 2, codes.OK},
		{"resource exhausted with RetryInfo retried", &failing{n: 1, err: withRetryInfo(codes.ResourceExhausted, 5*time.Millisecond)}, nil, 2, codes.OK},
		{"negative pushback stops", &failing{n: 1, err: status.Error(codes.Unavailable, "down"), pushback: "-1"}, nil, 1, codes.Unavailable},
		{"malformed pushback stops", &failing{n: 1, err: status.Error(codes.Unavailable, "down"), pushback: "soon"}, nil, 1, codes.Unavailable},
		{"pushback over the cap stops", &failing{n: 1, err: status.Error(codes.Unavailable, "down"), pushback: "600000"}, nil, 1, codes.Unavailable},
		// 18446744073710 ms overflows to 0.45 ms when multiplied naively.
		{"huge pushback stops", &failing{n: 1, err: status.Error(codes.Unavailable, "down"), pushback: "18446744073710"}, nil, 1, codes.Unavailable},
		{"the server's own deadline not retried", &failing{n: 1, err: status.Error(codes.DeadlineExceeded, "database too slow")}, nil, 1, codes.DeadlineExceeded},
		{"custom codes", &failing{n: 1, err: status.Error(codes.Aborted, "conflict")}, []retrygrpc.Option{retrygrpc.WithCodes(codes.Aborted)}, 2, codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := start(t, tc.f, newRetrier(t), tc.opts...)
			_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", got, err, tc.wantCode)
			}
			if tc.wantCode != codes.OK {
				if st, _ := status.FromError(err); st.Message() != status.Convert(tc.f.err).Message() {
					t.Errorf("message %q: the caller must see the server's status, not a wrapper", st.Message())
				}
			}
			if n := tc.f.calls.Load(); n != tc.wantCalls {
				t.Fatalf("%d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestUnaryAttemptTimeout(t *testing.T) {
	// The server hangs on the first call; the per-attempt timeout makes
	// DeadlineExceeded retryable, the caller's deadline is never exceeded.
	var calls atomic.Int32
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	// Real time: spare attempts, so a slow machine failing one retry within
	// 50ms does not fail the test.
	r := newRetrier(t, retry.WithAttemptTimeout(50*time.Millisecond), retry.WithMaxAttempts(10))
	conn, _ := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(mustInterceptors(t, r).UnaryClientInterceptor()))
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || calls.Load() < 2 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
}

func TestServerStreaming(t *testing.T) {
	f := &failing{n: 2, err: status.Error(codes.Unavailable, "down")}
	client := start(t, f, newRetrier(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first message %v, %v", resp, err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d stream attempts, want 3", n)
	}
}

func TestServerStreamingGivesUp(t *testing.T) {
	f := &failing{n: 100, err: status.Error(codes.Unavailable, "down")}
	client := start(t, f, newRetrier(t))
	stream, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("err %v", err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestServerStreamingServerDeadlineNotRetried(t *testing.T) {
	f := &failing{n: 1, err: status.Error(codes.DeadlineExceeded, "database too slow")}
	client := start(t, f, newRetrier(t))
	stream, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d attempts; a DeadlineExceeded that is no per-attempt timeout is not retried", n)
	}
}

// TestServerStreamingIsOneRequest: a server-streaming call is one request
// to the retry budget, as a unary call is: with ratio 0.5 and no floor one
// request allows no retry (0.5 < 1), for either kind of call.
func TestServerStreamingIsOneRequest(t *testing.T) {
	for _, kind := range []string{"unary", "server-streaming"} {
		t.Run(kind, func(t *testing.T) {
			budget, err := retry.NewBudget(0.5, 0)
			if err != nil {
				t.Fatal(err)
			}
			f := &failing{n: 1, err: status.Error(codes.Unavailable, "down")}
			client := start(t, f, newRetrier(t, retry.WithBudget(budget)))
			if kind == "unary" {
				_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			} else {
				var stream grpc.ServerStreamingClient[healthpb.HealthCheckResponse]
				if stream, err = client.Watch(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
					t.Fatal(err)
				}
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.Unavailable || f.calls.Load() != 1 {
				t.Fatalf("err %v after %d calls; want the budget to refuse the retry", err, f.calls.Load())
			}
		})
	}
}

// TestServerStreamingAttemptsIncludeOpening: attempts that failed to open
// the stream count toward the maximum with those that failed before the
// first message.
func TestServerStreamingAttemptsIncludeOpening(t *testing.T) {
	f := &failing{n: 100, err: status.Error(codes.Unavailable, "down")}
	var opens atomic.Int32
	failOpen := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if opens.Add(1) <= 2 {
			return nil, status.Error(codes.Unavailable, "no connection")
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
	client := dial(t, serve(t, f), grpc.WithChainStreamInterceptor(mustInterceptors(t, newRetrier(t)).StreamClientInterceptor(), failOpen))
	stream, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err %v", err)
	}
	if o, s := opens.Load(), f.calls.Load(); o != 3 || s != 1 {
		t.Fatalf("%d opens and %d streams reaching the server; want 3 attempts in all (2 failed opens, 1 stream)", o, s)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	hedging, err := retry.New("hedged", retry.WithHedging(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    *retry.Retrier
		opts []retrygrpc.Option
		want string
	}{
		{"empty code list", nil, []retrygrpc.Option{retrygrpc.WithCodes()}, "WithCodes: no codes"},
		{"code out of range", nil, []retrygrpc.Option{retrygrpc.WithCodes(codes.Unavailable, codes.Code(17))}, "WithCodes: Code(17)"},
		{"OK is no failure", nil, []retrygrpc.Option{retrygrpc.WithCodes(codes.OK)}, "WithCodes: OK"},
		{"nil option", nil, []retrygrpc.Option{nil}, "option 0 is nil"},
		{"hedging retrier", hedging, nil, `retrier "hedged" hedges`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ic, err := retrygrpc.New(tc.r, tc.opts...)
			if ic != nil || err == nil || !strings.Contains(err.Error(), "retrygrpc: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error saying %q", ic, err, tc.want)
			}
		})
	}
}

// TestNilRetrier: New(nil) retries with package retry's defaults (3
// attempts) instead of panicking at the first call.
func TestNilRetrier(t *testing.T) {
	for _, kind := range []string{"unary", "server-streaming"} {
		t.Run(kind, func(t *testing.T) {
			f := &failing{n: 100, err: status.Error(codes.Unavailable, "down"), pushback: "1"}
			client := start(t, f, nil)
			var err error
			if kind == "unary" {
				_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			} else {
				var stream grpc.ServerStreamingClient[healthpb.HealthCheckResponse]
				if stream, err = client.Watch(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
					t.Fatal(err)
				}
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.Unavailable || f.calls.Load() != 3 {
				t.Fatalf("err %v after %d calls; want Unavailable after the default 3 attempts", err, f.calls.Load())
			}
		})
	}
}

// TestServerStreamingSendEOF: when a stream's SendMsg returns io.EOF, the
// server has ended the stream, and the real status comes from RecvMsg
// (grpc.ClientStream's contract), not a clean end of stream nor an error
// from opening the call. An inner interceptor reports io.EOF as the
// contract allows (grpc-go's own streams hide it for server-streaming
// calls; other interceptors and transports need not).
func TestServerStreamingSendEOF(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // the n-th stream fails with errs[n-1]
		eofFrom   int32   // the first stream whose SendMsg reports io.EOF
		wantCalls int32
	}{
		{"replayed stream", []error{status.Error(codes.Unavailable, "down"), status.Error(codes.NotFound, "no such service")}, 2, 2},
		{"first stream", []error{status.Error(codes.NotFound, "no such service")}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			lis := bufconn.Listen(1 << 20)
			srv := grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				if n := int(calls.Add(1)); n <= len(tc.errs) {
					return tc.errs[n-1] // ends the stream before reading the request
				}
				return h(srv, ss)
			}))
			healthpb.RegisterHealthServer(srv, health.NewServer())
			go srv.Serve(lis)
			t.Cleanup(srv.Stop)

			var opened atomic.Int32
			eofAfterEnd := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				cs, err := streamer(ctx, desc, cc, method, opts...)
				if err != nil || opened.Add(1) < tc.eofFrom {
					return cs, err
				}
				return &eofStream{ClientStream: cs}, nil
			}
			client := dial(t, lis, grpc.WithChainStreamInterceptor(mustInterceptors(t, newRetrier(t)).StreamClientInterceptor(), eofAfterEnd))
			stream, err := client.Watch(context.Background(), &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("Watch = %v; the status belongs to Recv", err)
			}
			_, err = stream.Recv()
			if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "no such service" {
				t.Fatalf("Recv = %v; want the server's NotFound status, not the end of the stream", err)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Fatalf("%d streams, want %d: NotFound is not retried", n, tc.wantCalls)
			}
		})
	}
}

// eofStream reports io.EOF from SendMsg once the server has ended the
// stream: it waits for the server's answer, as a transport whose write
// fails on a closed stream would.
type eofStream struct{ grpc.ClientStream }

func (s *eofStream) SendMsg(m any) error {
	if err := s.ClientStream.SendMsg(m); err != nil {
		return err
	}
	if _, err := s.ClientStream.Header(); err != nil || len(s.ClientStream.Trailer()) > 0 || s.ClientStream.Context().Err() != nil {
		return io.EOF
	}
	return nil
}

// rejection is how a breaker client interceptor reports a call its
// breaker rejected: an Unavailable status with a RetryInfo detail for gRPC
// callers, unwrapping to the *breaker.OpenError.
type rejection struct {
	open *breaker.OpenError
	st   *status.Status
}

func (e *rejection) Error() string              { return e.st.Err().Error() }
func (e *rejection) GRPCStatus() *status.Status { return e.st }
func (e *rejection) Unwrap() error              { return e.open }

// TestBreakerInsideEndsRetries: with a breaker interceptor inside, an open
// breaker ends the retries at once, though its open time (5s) is within
// the retrier's 10s cap on server delays; the caller gets Unavailable.
func TestBreakerInsideEndsRetries(t *testing.T) {
	br, err := breaker.New("upstream", breaker.WithConsecutiveFailures(2), breaker.WithOpenDuration(5*time.Second),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	inner := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := br.Do(ctx, func(ctx context.Context) error { return invoker(ctx, method, req, reply, cc, opts...) })
		if oe, ok := errors.AsType[*breaker.OpenError](err); ok {
			st, _ := status.New(codes.Unavailable, oe.Error()).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(oe.RetryAfter)})
			return &rejection{open: oe, st: st}
		}
		return err
	}
	f := &failing{n: 100, err: status.Error(codes.Unavailable, "down")}
	client := dial(t, serve(t, f), grpc.WithChainUnaryInterceptor(
		mustInterceptors(t, newRetrier(t, retry.WithMaxAttempts(5))).UnaryClientInterceptor(), inner))
	start := time.Now()
	_, err = client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || st.Message() != "breaker: open" || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err %v; want the breaker's Unavailable", err)
	}
	if n := f.calls.Load(); n != 2 || time.Since(start) > time.Second {
		t.Fatalf("%d calls reached the server in %v; want 2, then the retries end at once", n, time.Since(start))
	}
}
