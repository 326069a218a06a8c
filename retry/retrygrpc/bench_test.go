package retrygrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/retry/retrygrpc"
)

func BenchmarkUnaryClientInterceptor(b *testing.B) {
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ic, err := retrygrpc.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	interceptor := ic.UnaryClientInterceptor()
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = invoker(ctx, "/svc/Method", nil, nil, nil)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = interceptor(ctx, "/svc/Method", nil, nil, nil, invoker)
		}
	})
}
