package idempotencygrpc_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/idempotencygrpc"
)

// service is a health service whose Check runs are counted; the service
// name picks the outcome.
type service struct {
	healthpb.UnimplementedHealthServer
	runs    atomic.Int64
	started chan struct{} // "slow" sends on it, then waits on block
	block   chan struct{}
}

func (s *service) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	n := s.runs.Add(1)
	switch req.Service {
	case "unavailable":
		return nil, status.Error(codes.Unavailable, "try again")
	case "notfound":
		return nil, status.Errorf(codes.NotFound, "no such service (run %d)", n)
	case "slow":
		s.started <- struct{}{}
		<-s.block
	}
	if n%2 == 1 {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
}

type env struct {
	svc    *service
	client healthpb.HealthClient
}

func start(t *testing.T, server []grpc.UnaryServerInterceptor, dial ...grpc.DialOption) *env {
	t.Helper()
	e := &env{svc: &service{started: make(chan struct{}, 1), block: make(chan struct{})}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(server...))
	healthpb.RegisterHealthServer(srv, e.svc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
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
		srv.Stop()
		<-done
	})
	e.client = healthpb.NewHealthClient(conn)
	return e
}

func interceptors(t *testing.T, g *idempotency.Guard, opts ...idempotencygrpc.Option) *idempotencygrpc.Interceptors {
	t.Helper()
	ic, err := idempotencygrpc.New(g, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

func withKey(key string) context.Context {
	ctx := context.Background()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, idempotencygrpc.MetadataKey, key)
	}
	return ctx
}

func TestUnaryServer(t *testing.T) {
	type call struct {
		key, service string
		code         codes.Code
		serving      bool // the response's status is SERVING (the first run's)
		replayed     bool
	}
	for _, tc := range []struct {
		name     string
		opts     []idempotencygrpc.Option
		calls    []call
		wantRuns int64
	}{
		{name: "retry replays the response message", wantRuns: 1, calls: []call{
			{key: `"k"`, serving: true},
			{key: `"k"`, serving: true, replayed: true},
		}},
		{name: "another key runs again", wantRuns: 2, calls: []call{
			{key: `"k"`, serving: true},
			{key: `"j"`, serving: false},
		}},
		{name: "bare key is the quoted key", wantRuns: 1, calls: []call{
			{key: `"k"`, serving: true},
			{key: `k`, serving: true, replayed: true},
		}},
		{name: "another request with the key is FAILED_PRECONDITION", wantRuns: 1, calls: []call{
			{key: `"k"`, serving: true},
			{key: `"k"`, service: "other", code: codes.FailedPrecondition},
		}},
		{name: "missing key runs unprotected", wantRuns: 2, calls: []call{
			{serving: true},
			{serving: false},
		}},
		{name: "missing key with WithRequired is INVALID_ARGUMENT", wantRuns: 0,
			opts:  []idempotencygrpc.Option{idempotencygrpc.WithRequired(true)},
			calls: []call{{code: codes.InvalidArgument}}},
		{name: "malformed key is INVALID_ARGUMENT", wantRuns: 0, calls: []call{
			{key: `"open`, code: codes.InvalidArgument},
		}},
		{name: "transient error releases the key", wantRuns: 2, calls: []call{
			{key: `"k"`, service: "unavailable", code: codes.Unavailable},
			{key: `"k"`, service: "unavailable", code: codes.Unavailable},
		}},
		{name: "final error is stored and replayed", wantRuns: 1, calls: []call{
			{key: `"k"`, service: "notfound", code: codes.NotFound},
			{key: `"k"`, service: "notfound", code: codes.NotFound, replayed: true},
		}},
		{name: "WithKeyFunc finds the key", wantRuns: 1,
			opts: []idempotencygrpc.Option{idempotencygrpc.WithKeyFunc(func(context.Context) (string, error) { return "same", nil })},
			calls: []call{
				{key: `"a"`, serving: true},
				{key: `"b"`, serving: true, replayed: true},
			}},
		{name: "WithKeyFunc error is INVALID_ARGUMENT", wantRuns: 0,
			opts:  []idempotencygrpc.Option{idempotencygrpc.WithKeyFunc(func(context.Context) (string, error) { return "", errors.New("bad key") })},
			calls: []call{{key: `"a"`, code: codes.InvalidArgument}}},
		{name: "filter skips methods", wantRuns: 2,
			opts: []idempotencygrpc.Option{idempotencygrpc.WithFilter(func(string) bool { return false })},
			calls: []call{
				{key: `"k"`, serving: true},
				{key: `"k"`, serving: false},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := idempotency.New("grpc-test")
			e := start(t, []grpc.UnaryServerInterceptor{interceptors(t, g, tc.opts...).UnaryServerInterceptor()})
			var firstErr string
			for i, c := range tc.calls {
				var hdr metadata.MD
				resp, err := e.client.Check(withKey(c.key), &healthpb.HealthCheckRequest{Service: c.service}, grpc.Header(&hdr))
				if got := status.Code(err); got != c.code {
					t.Fatalf("call %d: code %v (%v), want %v", i+1, got, err, c.code)
				}
				if err == nil && (resp.Status == healthpb.HealthCheckResponse_SERVING) != c.serving {
					t.Fatalf("call %d: response %v, want serving %v", i+1, resp.Status, c.serving)
				}
				if got := len(hdr.Get(idempotencygrpc.ReplayedKey)) > 0; got != c.replayed {
					t.Fatalf("call %d: replayed %v, want %v", i+1, got, c.replayed)
				}
				if c.code == codes.NotFound {
					if firstErr == "" {
						firstErr = err.Error()
					} else if err.Error() != firstErr {
						t.Fatalf("replayed error %q, want %q", err, firstErr)
					}
				}
			}
			if n := e.svc.runs.Load(); n != tc.wantRuns {
				t.Fatalf("%d runs, want %d", n, tc.wantRuns)
			}
		})
	}
}

func TestUnaryServerInProgress(t *testing.T) {
	g, _ := idempotency.New("grpc-test")
	e := start(t, []grpc.UnaryServerInterceptor{interceptors(t, g).UnaryServerInterceptor()})
	done := make(chan error)
	go func() {
		_, err := e.client.Check(withKey(`"k"`), &healthpb.HealthCheckRequest{Service: "slow"})
		done <- err
	}()
	<-e.svc.started // the first call holds the key
	if _, err := e.client.Check(withKey(`"k"`), &healthpb.HealthCheckRequest{Service: "slow"}); status.Code(err) != codes.Aborted {
		t.Fatalf("second call while the first runs: %v, want ABORTED", err)
	}
	close(e.svc.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.svc.runs.Load(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

func TestUnaryServerStoreError(t *testing.T) {
	g, _ := idempotency.New("grpc-test", idempotency.WithStore(brokenStore{}))
	var seen error
	e := start(t, []grpc.UnaryServerInterceptor{
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			seen = err
			return resp, err
		},
		interceptors(t, g).UnaryServerInterceptor(),
	})
	_, err := e.client.Check(withKey(`"k"`), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable || e.svc.runs.Load() != 0 || !errors.Is(seen, idempotency.ErrUnavailable) {
		t.Fatalf("%v (server side %v), runs %d", err, seen, e.svc.runs.Load())
	}
}

type brokenStore struct{ idempotency.Store }

func (brokenStore) Begin(context.Context, string, *idempotency.Record, time.Duration) (*idempotency.Record, error) {
	return nil, errors.New("down")
}

// TestClientAndServer: the client interceptor adds a key; gRPC's retry
// (a service config retry policy) resends it after the first answer is
// lost, and the server replays.
func TestClientAndServer(t *testing.T) {
	g, _ := idempotency.New("grpc-test")
	ic := interceptors(t, g)
	var attempts atomic.Int64
	lose := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		if attempts.Add(1) == 1 {
			return nil, status.Error(codes.Unavailable, "answer lost")
		}
		return resp, err
	}
	const retryPolicy = `{"methodConfig":[{"name":[{"service":"grpc.health.v1.Health"}],"retryPolicy":{
		"maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.01s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
	e := start(t, []grpc.UnaryServerInterceptor{lose, ic.UnaryServerInterceptor()},
		grpc.WithUnaryInterceptor(ic.UnaryClientInterceptor()), grpc.WithDefaultServiceConfig(retryPolicy))
	var hdr metadata.MD
	resp, err := e.client.Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING || len(hdr.Get(idempotencygrpc.ReplayedKey)) == 0 {
		t.Fatalf("%v %v %v", resp, err, hdr)
	}
	if e.svc.runs.Load() != 1 || attempts.Load() != 2 {
		t.Fatalf("%d runs in %d attempts, want 1 in 2", e.svc.runs.Load(), attempts.Load())
	}
}

func TestNewErrors(t *testing.T) {
	for _, opts := range [][]idempotencygrpc.Option{{nil}, {idempotencygrpc.WithScope(nil)}, {idempotencygrpc.WithStoreCode(nil)}, {idempotencygrpc.WithFilter(nil)}} {
		if ic, err := idempotencygrpc.New(nil, opts...); err == nil || ic != nil {
			t.Fatalf("New(%v) = %v, %v; want an error", opts, ic, err)
		}
	}
}
