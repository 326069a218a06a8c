package breakergrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/breakergrpc"
)

func ExampleUnaryClientInterceptor() {
	reg, err := breaker.NewRegistry(breaker.WithConsecutiveFailures(2),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	conn, stop := dial(grpc.WithChainUnaryInterceptor(breakergrpc.UnaryClientInterceptor(reg)))
	defer stop()

	ctx := context.Background()
	for _, c := range []codes.Code{codes.NotFound, codes.Unavailable, codes.Unavailable, codes.OK} {
		err := say(ctx, conn, c)
		fmt.Println(status.Code(err), errors.Is(err, breaker.ErrOpen))
	}
	// Output:
	// NotFound false
	// Unavailable false
	// Unavailable false
	// Unavailable true
}

// dial serves the echo service on an in-memory listener and connects to it.
func dial(opts ...grpc.DialOption) (*grpc.ClientConn, func()) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	srv.RegisterService(&echoDesc, &echo{})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(target, append(opts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		panic(err)
	}
	return conn, func() { _ = conn.Close(); srv.Stop() }
}
