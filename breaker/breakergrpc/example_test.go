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

// ExampleNew protects a client's calls to a dependency: two failures in a
// row open its breaker, and the next call fails at once, without being
// sent, with an error that is both a gRPC Unavailable and breaker.ErrOpen.
func ExampleNew() {
	reg, err := breaker.NewRegistry(breaker.WithConsecutiveFailures(2),
		breaker.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	ic, err := breakergrpc.New(reg)
	if err != nil {
		panic(err)
	}
	conn, stop := dial(nil, grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()))
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

// ExampleInterceptors_UnaryServerInterceptor protects a server's methods
// with default breakers (New(nil)): a client answered ResourceExhausted
// over and over does not open the method, while ten Internal errors do.
func ExampleInterceptors_UnaryServerInterceptor() {
	ic, err := breakergrpc.New(nil)
	if err != nil {
		panic(err)
	}
	conn, stop := dial([]grpc.ServerOption{grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor())})
	defer stop()

	ctx := context.Background()
	for range 20 {
		_ = say(ctx, conn, codes.ResourceExhausted)
	}
	fmt.Println("after 20 rate-limited calls:", status.Code(say(ctx, conn, codes.OK)))
	for range 10 {
		_ = say(ctx, conn, codes.Internal)
	}
	fmt.Println("after 10 internal errors:", status.Code(say(ctx, conn, codes.OK)))
	// Output:
	// after 20 rate-limited calls: OK
	// after 10 internal errors: Unavailable
}

// dial serves the echo service on an in-memory listener and connects to it.
func dial(srvOpts []grpc.ServerOption, opts ...grpc.DialOption) (*grpc.ClientConn, func()) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(srvOpts...)
	srv.RegisterService(&echoDesc, &echo{arrived: make(chan struct{}, 1)})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(target, append(opts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		panic(err)
	}
	return conn, func() { _ = conn.Close(); srv.Stop() }
}
