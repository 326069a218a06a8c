package ratelimitgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/ratelimit"
)

// ClientInterceptors paces outgoing calls through one *ratelimit.Limiter,
// as (*ratelimit.Limiter).Transport paces HTTP requests. Build it with
// NewClient; its unary and stream interceptors share the limiter's bucket.
type ClientInterceptors struct {
	l *ratelimit.Limiter
}

// NewClient returns client interceptors that make every outgoing call wait
// for a token of l. l must not be nil.
func NewClient(l *ratelimit.Limiter) (*ClientInterceptors, error) {
	if l == nil {
		return nil, errors.New("ratelimitgrpc: NewClient: nil limiter")
	}
	return &ClientInterceptors{l: l}, nil
}

// UnaryClientInterceptor returns an interceptor that waits for a token
// before each call is sent. A call whose wait would overrun its deadline,
// or the limiter's WithMaxWait bound, fails at once with
// RESOURCE_EXHAUSTED (and a RetryInfo detail) without being sent;
// ratelimit.WithMaxWait(0) makes every call fail fast rather than wait.
//
// On a nil *ClientInterceptors (a NewClient error ignored) the
// interceptors pace nothing, and an Error log line (slog.Default())
// says so.
func (c *ClientInterceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	if c == nil {
		logNil("UnaryClientInterceptor of a nil *ClientInterceptors: calls are not paced")
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := c.l.Wait(ctx); err != nil {
			return grpcx.Error(err)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams: opening a
// stream takes one token.
func (c *ClientInterceptors) StreamClientInterceptor() grpc.StreamClientInterceptor {
	if c == nil {
		logNil("StreamClientInterceptor of a nil *ClientInterceptors: streams are not paced")
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		}
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if err := c.l.Wait(ctx); err != nil {
			return nil, grpcx.Error(err)
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}
