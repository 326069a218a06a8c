package tracinggrpc_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/tracing"
	"github.com/paved-go/paved/tracing/tracinggrpc"
)

func ExampleNew() {
	tr, err := tracing.New(tracing.WithSpans(false))
	if err != nil {
		fmt.Println(err)
		return
	}
	ic, err := tracinggrpc.New(tr)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Server: correlation ids (and, with spans on, otelgrpc spans).
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(ic.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()

	// Client: the context's correlation id goes out with every call.
	conn, err := grpc.NewClient("passthrough:///bufnet", append(ic.DialOptions(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	ctx := tracing.WithCorrelationID(context.Background(), "job-42")
	var header metadata.MD
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("server answered with id", header.Get("x-correlation-id"))
	// Output: server answered with id [job-42]
}
