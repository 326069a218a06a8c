package overloadgrpc_test

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/overload/overloadgrpc"
)

// A client whose server answers RESOURCE_EXHAUSTED starts failing calls
// locally, with UNAVAILABLE, without sending them.
func ExampleNewClient() {
	// The draw is fixed at 0.5 to make the output deterministic.
	th, err := overload.NewThrottle("inventory", overload.WithRandom(func() float64 { return 0.5 }))
	if err != nil {
		panic(err)
	}
	ic, err := overloadgrpc.NewClient(th)
	if err != nil {
		panic(err)
	}
	unary := ic.UnaryClientInterceptor()
	// The server, overloaded. In a program the interceptor goes to
	// grpc.NewClient with grpc.WithChainUnaryInterceptor.
	sent := 0
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		sent++
		return status.Error(codes.ResourceExhausted, "busy")
	}
	for i := range 4 {
		err := unary(context.Background(), "/inventory.v1.Inventory/Get", nil, nil, nil, invoker)
		fmt.Printf("call %d: %v, throttled locally: %v\n", i, status.Code(err), errors.Is(err, overload.ErrThrottled))
	}
	fmt.Println("sent:", sent)
	// Output:
	// call 0: ResourceExhausted, throttled locally: false
	// call 1: ResourceExhausted, throttled locally: false
	// call 2: Unavailable, throttled locally: true
	// call 3: Unavailable, throttled locally: true
	// sent: 2
}
