package ratelimitgrpc

import (
	"context"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/ratelimit"
)

// UnaryClientInterceptor returns an interceptor that paces outgoing calls
// through l: each call waits for a token before it is sent. A call whose
// wait would overrun its deadline, or l's WithMaxWait bound, fails at once
// with RESOURCE_EXHAUSTED (and a RetryInfo detail) without being sent;
// ratelimit.WithMaxWait(0) makes every call fail fast rather than wait.
func UnaryClientInterceptor(l *ratelimit.Limiter) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := l.Wait(ctx); err != nil {
			return grpcx.Error(err)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams: opening a
// stream takes one token.
func StreamClientInterceptor(l *ratelimit.Limiter) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := l.Wait(ctx); err != nil {
			return nil, grpcx.Error(err)
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}
