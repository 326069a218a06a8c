package authzgrpc_test

import (
	"context"
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/authz/authzgrpc"
)

func Example() {
	az, err := authz.New(
		authz.WithAuthenticator(keys{"alice": {ID: "alice", Tenant: "blue"}}),
		// The request message, as protobuf JSON, is request.body.
		authz.WithRoute("/grpc.health.v1.Health/Check",
			authz.Allow("own service", `request.body.service == principal.tenant`)),
		authz.WithPublic("/grpc.health.v1.Health/Watch", "/grpc.health.v1.Health/List"),
	)
	if err != nil {
		panic(err)
	}
	ic, err := authzgrpc.New(az)
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()))
	hs := health.NewServer()
	hs.SetServingStatus("blue", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	if err := ic.Check(srv); err != nil {
		panic(err) // a method without rules
	}

	lis := bufconn.Listen(1 << 16)
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

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-test-user", "alice")
	for _, service := range []string{"blue", "green"} {
		res, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		fmt.Println(strings.TrimSpace(fmt.Sprint(service, " ", res.GetStatus(), " ", status.Code(err), " ", status.Convert(err).Message())))
	}
	// Output:
	// blue SERVING OK
	// green UNKNOWN PermissionDenied authz: denied: no rule allowed
}
