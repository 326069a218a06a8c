package faultsgrpc_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/faults/faultsgrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a real grpc.Server with the health service on a bufconn
// listener, and a client connected to it.
type env struct {
	client healthpb.HealthClient
	health *health.Server
	served atomic.Int64 // calls and streams that reached the service
}

// start runs the server with the server interceptors of server (if any)
// and the client with those of client (if any). A caller's principal is
// the x-principal metadata, as an authenticator would set it.
func start(t testing.TB, server, client *faults.Injector) *env {
	t.Helper()
	e := &env{}
	authn := func(ctx context.Context) context.Context {
		if id := metadataValue(ctx, "x-principal"); id != "" {
			return authz.WithPrincipal(ctx, &authz.Principal{ID: id})
		}
		return ctx
	}
	unary := []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(authn(ctx), req)
	}}
	var stream []grpc.StreamServerInterceptor
	if server != nil {
		ic, err := faultsgrpc.New(server)
		if err != nil {
			t.Fatal(err)
		}
		unary = append(unary, ic.UnaryServerInterceptor())
		stream = append(stream, ic.StreamServerInterceptor())
	}
	unary = append(unary, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		e.served.Add(1)
		return h(ctx, req)
	})
	stream = append(stream, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		e.served.Add(1)
		return h(srv, ss)
	})
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	e.health = health.NewServer()
	healthpb.RegisterHealthServer(srv, e.health)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	dial := []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	if client != nil {
		ic, err := faultsgrpc.New(client)
		if err != nil {
			t.Fatal(err)
		}
		dial = append(dial, grpc.WithUnaryInterceptor(ic.UnaryClientInterceptor()), grpc.WithStreamInterceptor(ic.StreamClientInterceptor()))
	}
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		e.health.Shutdown()
		srv.Stop()
		<-done
	})
	e.client = healthpb.NewHealthClient(conn)
	return e
}

// quiet is an Injector with rules that logs nowhere and draws from a
// fixed seed.
func quiet(t testing.TB, rules ...faults.Rule) *faults.Injector {
	t.Helper()
	inj, err := faults.New("", faults.WithLogger(slog.New(slog.DiscardHandler)), faults.WithRand(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) > 0 {
		if err := inj.Set(rules...); err != nil {
			t.Fatal(err)
		}
	}
	return inj
}
