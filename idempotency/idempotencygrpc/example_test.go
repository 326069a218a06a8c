package idempotencygrpc_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/idempotencygrpc"
)

type countingHealth struct {
	healthpb.UnimplementedHealthServer
	runs int
}

func (h *countingHealth) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.runs++
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func Example() {
	g, err := idempotency.New("checks")
	if err != nil {
		panic(err)
	}
	ic, err := idempotencygrpc.New(g)
	if err != nil {
		panic(err)
	}
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()))
	svc := &countingHealth{}
	healthpb.RegisterHealthServer(srv, svc)
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	// The same key twice, as a retry would send it.
	ctx := metadata.AppendToOutgoingContext(context.Background(), idempotencygrpc.MetadataKey, `"check-1"`)
	for range 2 {
		var hdr metadata.MD
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
		fmt.Println(resp.GetStatus(), err, hdr.Get(idempotencygrpc.ReplayedKey))
	}
	fmt.Println("runs:", svc.runs)
	// Output:
	// SERVING <nil> []
	// SERVING <nil> [true]
	// runs: 1
}
