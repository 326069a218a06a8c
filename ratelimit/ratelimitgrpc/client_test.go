package ratelimitgrpc_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/ratelimitgrpc"
)

func client(t testing.TB, l *ratelimit.Limiter) *ratelimitgrpc.ClientInterceptors {
	t.Helper()
	c, err := ratelimitgrpc.NewClient(l)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientRejectsNilLimiter(t *testing.T) {
	if c, err := ratelimitgrpc.NewClient(nil); err == nil {
		t.Fatalf("NewClient(nil) = %v, want an error", c)
	}
}

func newLimiter(t testing.TB, limit rate.Limit, burst int, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(limit, burst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestClientInterceptorsFailFast(t *testing.T) {
	l := newLimiter(t, rate.Every(time.Hour), 2, ratelimit.WithMaxWait(0))
	c := client(t, l)
	e := start(t, serverSetup{dial: []grpc.DialOption{
		grpc.WithUnaryInterceptor(c.UnaryClientInterceptor()),
		grpc.WithStreamInterceptor(c.StreamClientInterceptor()),
	}})
	ctx := t.Context()
	if err := check(e, ctx, ""); err != nil {
		t.Fatal(err)
	}
	ws, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
	checkLimited(t, check(e, ctx, ""), nil, "", time.Hour)
	_, err = e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third call (a stream): %v, want RESOURCE_EXHAUSTED", err)
	}
	if n := e.served.Load(); n != 2 {
		t.Fatalf("%d calls reached the server, want 2", n)
	}
}

func TestUnaryClientInterceptorPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		intercept := client(t, newLimiter(t, 10, 1)).UnaryClientInterceptor()
		start := time.Now()
		var sent []time.Duration
		invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			sent = append(sent, time.Since(start))
			return nil
		}
		for range 3 {
			if err := intercept(t.Context(), "/a.B/C", nil, nil, nil, invoker); err != nil {
				t.Fatal(err)
			}
		}
		if len(sent) != 3 || sent[0] != 0 || sent[1] != 100*time.Millisecond || sent[2] != 200*time.Millisecond {
			t.Fatalf("calls sent at %v, want 0s, 100ms, 200ms", sent)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		before := time.Now()
		err := intercept(ctx, "/a.B/C", nil, nil, nil, invoker)
		if status.Code(err) != codes.ResourceExhausted || time.Since(before) != 0 || len(sent) != 3 {
			t.Fatalf("call whose wait overruns its deadline: %v after %v, want RESOURCE_EXHAUSTED at once", err, time.Since(before))
		}

		canceled, cancel := context.WithCancel(t.Context())
		cancel()
		if err := intercept(canceled, "/a.B/C", nil, nil, nil, invoker); status.Code(err) != codes.Canceled {
			t.Fatalf("canceled call: %v, want CANCELED", err)
		}
	})
}

func TestStreamClientInterceptorPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		intercept := client(t, newLimiter(t, 2, 1)).StreamClientInterceptor()
		start := time.Now()
		streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return nil, nil
		}
		for range 3 {
			if _, err := intercept(t.Context(), &grpc.StreamDesc{}, nil, "/a.B/C", streamer); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("three streams at 2/s opened over %v, want 1s", got)
		}
	})
}

// TestNilInterceptors checks that interceptors of nil values, what a
// caller who ignored New's or NewClient's error holds, let calls through
// instead of panicking at the first call.
func TestNilInterceptors(t *testing.T) {
	var server *ratelimitgrpc.Interceptors
	var pacing *ratelimitgrpc.ClientInterceptors
	e := start(t, serverSetup{
		unary:  server.UnaryServerInterceptor(),
		stream: server.StreamServerInterceptor(),
		dial: []grpc.DialOption{
			grpc.WithUnaryInterceptor(pacing.UnaryClientInterceptor()),
			grpc.WithStreamInterceptor(pacing.StreamClientInterceptor()),
		},
	})
	for range 3 {
		if err := check(e, t.Context(), ""); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
}
