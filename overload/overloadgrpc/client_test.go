package overloadgrpc_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/overload/overloadgrpc"
)

// env is a health server on a bufconn listener that answers every call
// with the code in code (OK: the service answers), and counts the calls
// that reach it.
type env struct {
	client healthpb.HealthClient
	code   atomic.Int32
	served atomic.Int64
}

func start(t *testing.T, dial ...grpc.DialOption) *env {
	t.Helper()
	return startWith(t, nil, nil, dial...)
}

// startWith is start with server interceptors running before the
// counting one.
func startWith(t *testing.T, su grpc.UnaryServerInterceptor, ss grpc.StreamServerInterceptor, dial ...grpc.DialOption) *env {
	t.Helper()
	e := &env{}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		e.served.Add(1)
		if c := codes.Code(e.code.Load()); c != codes.OK {
			return nil, status.Error(c, "test")
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		e.served.Add(1)
		if c := codes.Code(e.code.Load()); c != codes.OK {
			return status.Error(c, "test")
		}
		return h(srv, ss)
	}
	lis := bufconn.Listen(1 << 20)
	us := []grpc.UnaryServerInterceptor{unary}
	sts := []grpc.StreamServerInterceptor{stream}
	if su != nil {
		us = append([]grpc.UnaryServerInterceptor{su}, us...)
	}
	if ss != nil {
		sts = append([]grpc.StreamServerInterceptor{ss}, sts...)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(us...), grpc.ChainStreamInterceptor(sts...))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	dial = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dial...)
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		hs.Shutdown()
		srv.Stop()
		<-done
	})
	e.client = healthpb.NewHealthClient(conn)
	return e
}

func throttled(t *testing.T, draw float64) (*overload.Throttle, []grpc.DialOption) {
	t.Helper()
	th, err := overload.NewThrottle("health", overload.WithRandom(func() float64 { return draw }))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := overloadgrpc.NewClient(th)
	if err != nil {
		t.Fatal(err)
	}
	return th, []grpc.DialOption{
		grpc.WithUnaryInterceptor(ic.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(ic.StreamClientInterceptor()),
	}
}

var outcomes = []struct {
	code   codes.Code
	accept bool
}{
	{codes.OK, true},
	{codes.InvalidArgument, true},
	{codes.NotFound, true},
	{codes.PermissionDenied, true},
	{codes.Internal, true},
	{codes.Unknown, true},
	{codes.DeadlineExceeded, true},
	{codes.ResourceExhausted, false},
	{codes.Unavailable, false},
}

func TestUnaryCountsOnlyOverloadCodes(t *testing.T) {
	for _, tc := range outcomes {
		t.Run(tc.code.String(), func(t *testing.T) {
			th, dial := throttled(t, 0.9999999)
			e := start(t, dial...)
			e.code.Store(int32(tc.code))
			_, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v, want %v", got, tc.code)
			}
			want := int64(0)
			if tc.accept {
				want = 1
			}
			if r, a := th.Counts(); r != 1 || a != want {
				t.Fatalf("Counts() = %d, %d; want 1, %d", r, a, want)
			}
		})
	}
}

func TestStreamCountsOnlyOverloadCodes(t *testing.T) {
	for _, tc := range outcomes {
		t.Run(tc.code.String(), func(t *testing.T) {
			th, dial := throttled(t, 0.9999999)
			e := start(t, dial...)
			e.code.Store(int32(tc.code))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.Recv() // the first status update, or the error
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v, want %v", got, tc.code)
			}
			cancel()
			want := int64(0)
			if tc.accept {
				want = 1
			}
			if r, a := th.Counts(); r != 1 || a != want {
				t.Fatalf("Counts() = %d, %d; want 1, %d", r, a, want)
			}
		})
	}
}

func TestThrottledCallsAreNeverSent(t *testing.T) {
	th, dial := throttled(t, 0) // a draw of 0 rejects whenever p > 0
	e := start(t, dial...)
	e.code.Store(int32(codes.ResourceExhausted))
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("first call: %v, want RESOURCE_EXHAUSTED from the server", err)
	}
	for i := range 10 {
		_, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if status.Code(err) != codes.Unavailable || !errors.Is(err, overload.ErrThrottled) {
			t.Fatalf("call %d: %v, want UNAVAILABLE unwrapping to ErrThrottled", i, err)
		}
		_, err = e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if status.Code(err) != codes.Unavailable || !errors.Is(err, overload.ErrThrottled) {
			t.Fatalf("stream %d: %v, want UNAVAILABLE unwrapping to ErrThrottled", i, err)
		}
	}
	if got := e.served.Load(); got != 1 {
		t.Fatalf("server saw %d calls, want 1", got)
	}
	if r, a := th.Counts(); r != 21 || a != 0 {
		t.Fatalf("Counts() = %d, %d; want 21, 0", r, a)
	}
}

func TestNilClientInterceptorsPassThrough(t *testing.T) {
	ic, err := overloadgrpc.NewClient(nil)
	if err == nil || ic != nil {
		t.Fatalf("NewClient(nil) = %v, %v; want an error", ic, err)
	}
	e := start(t, grpc.WithUnaryInterceptor(ic.UnaryClientInterceptor()), grpc.WithStreamInterceptor(ic.StreamClientInterceptor()))
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}
