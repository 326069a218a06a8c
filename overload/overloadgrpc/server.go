package overloadgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/overload"
)

// Admitter is what the server interceptors admit calls through:
// *overload.Bulkhead satisfies it. Acquire returns the function that ends
// the call's hold, or the error the call is refused with (a
// *overload.ShedError when shed, the context's error when the call ends
// while waiting).
type Admitter interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// Interceptors are the server interceptors of an Admitter (New) or of an
// *overload.Limiter (NewLimiter).
type Interceptors struct {
	a        Admitter
	l        *overload.Limiter
	classify func(ctx context.Context, fullMethod string) overload.Class
}

// NewLimiter returns server interceptors that admit every call through
// the adaptive limiter l, with the class classify gives it (nil: every
// call is overload.Default). Under pressure the limiter sheds Sheddable
// calls first and keeps its whole limit for Critical ones; each admitted
// call's duration is a latency sample of l. l must not be nil.
//
// A classify reading a metadata key:
//
//	func(ctx context.Context, _ string) overload.Class {
//		md, _ := metadata.FromIncomingContext(ctx)
//		if v := md.Get("x-criticality"); len(v) > 0 {
//			c, _ := overload.ParseClass(v[0])
//			return c
//		}
//		return overload.Default
//	}
func NewLimiter(l *overload.Limiter, classify func(ctx context.Context, fullMethod string) overload.Class) (*Interceptors, error) {
	if l == nil {
		return nil, errors.New("overloadgrpc: NewLimiter: nil limiter")
	}
	return &Interceptors{l: l, classify: classify}, nil
}

func (i *Interceptors) acquire(ctx context.Context, method string) (func(), error) {
	if i.l == nil {
		return i.a.Acquire(ctx)
	}
	c := overload.Default
	if i.classify != nil {
		c = i.classify(ctx, method)
	}
	t, err := i.l.Acquire(ctx, c)
	if err != nil {
		return nil, err
	}
	return t.Done, nil
}

// New returns server interceptors that admit every call through a: a
// unary call holds its slot while its handler runs, a stream for its
// whole life. a must not be nil.
func New(a Admitter) (*Interceptors, error) {
	if a == nil {
		return nil, errors.New("overloadgrpc: New: nil admitter")
	}
	return &Interceptors{a: a}, nil
}

// UnaryServerInterceptor returns an interceptor that admits each call
// through the Admitter. A shed call fails with UNAVAILABLE, a
// google.rpc.RetryInfo detail and the grpc-retry-pushback-ms trailer
// (from the shed error's retry delay), so clients back off and gRPC's
// built-in retry waits; its handler never runs.
//
// On a nil *Interceptors (a New error ignored) the interceptors admit
// every call, and an Error log line (slog.Default()) says so.
func (i *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if i == nil {
		logNil("UnaryServerInterceptor of a nil *Interceptors: calls are not limited")
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(ctx, req)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		release, err := i.acquire(ctx, info.FullMethod)
		if err != nil {
			return nil, grpcx.ServerError(ctx, err)
		}
		defer release()
		return h(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: a stream
// holds its slot until its handler returns.
func (i *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	if i == nil {
		logNil("StreamServerInterceptor of a nil *Interceptors: streams are not limited")
		return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, ss)
		}
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		release, err := i.acquire(ss.Context(), info.FullMethod)
		if err != nil {
			return grpcx.StreamServerError(ss, err)
		}
		defer release()
		return h(srv, ss)
	}
}
