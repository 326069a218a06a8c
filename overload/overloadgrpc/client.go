package overloadgrpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/overload"
)

// ClientInterceptors throttle outgoing calls through one
// *overload.Throttle, as (*overload.Throttle).Transport throttles HTTP
// requests. Build them with NewClient; the unary and stream interceptors
// share the Throttle's counts.
type ClientInterceptors struct {
	t *overload.Throttle
}

// NewClient returns client interceptors that send every outgoing call
// through t. t must not be nil.
func NewClient(t *overload.Throttle) (*ClientInterceptors, error) {
	if t == nil {
		return nil, errors.New("overloadgrpc: NewClient: nil throttle")
	}
	return &ClientInterceptors{t: t}, nil
}

// IsOverloadCode reports whether a gRPC code is the server saying it is
// overloaded: RESOURCE_EXHAUSTED and UNAVAILABLE. Every other code is an
// accept for a Throttle, as package overload counts every HTTP status
// but 429 and 503.
func IsOverloadCode(c codes.Code) bool {
	return c == codes.ResourceExhausted || c == codes.Unavailable
}

// rejection is a locally throttled call's error: a status error with code
// UNAVAILABLE, unwrapping to overload.ErrThrottled.
type rejection struct{ st *status.Status }

var errThrottled = &rejection{st: status.Convert(grpcx.Error(overload.ErrThrottled))}

func (e *rejection) Error() string              { return e.st.Err().Error() }
func (e *rejection) GRPCStatus() *status.Status { return e.st }
func (e *rejection) Unwrap() error              { return overload.ErrThrottled }

// UnaryClientInterceptor returns an interceptor that counts each call and
// sends it unless the Throttle rejects it; a rejected call fails with
// UNAVAILABLE (its error unwraps to overload.ErrThrottled) without being
// sent. A call that ends with any code but RESOURCE_EXHAUSTED or
// UNAVAILABLE counts as an accept.
//
// On a nil *ClientInterceptors (a NewClient error ignored) the
// interceptors throttle nothing, and an Error log line (slog.Default())
// says so.
func (c *ClientInterceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	if c == nil {
		logNil("UnaryClientInterceptor of a nil *ClientInterceptors: calls are not throttled")
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if c.t.Allow(ctx) != nil {
			return errThrottled
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		record(c.t, !IsOverloadCode(status.Code(err)))
		return err
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams: opening a
// stream counts as one request, and the stream's outcome is the first
// answer the client receives: a message, or the final status. A stream
// the client abandons before receiving anything is never counted.
func (c *ClientInterceptors) StreamClientInterceptor() grpc.StreamClientInterceptor {
	if c == nil {
		logNil("StreamClientInterceptor of a nil *ClientInterceptors: streams are not throttled")
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, opts...)
		}
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if c.t.Allow(ctx) != nil {
			return nil, errThrottled
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			record(c.t, !IsOverloadCode(status.Code(err)))
			return nil, err
		}
		return &clientStream{ClientStream: cs, t: c.t}, nil
	}
}

type clientStream struct {
	grpc.ClientStream
	t    *overload.Throttle
	once sync.Once
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	s.once.Do(func() {
		record(s.t, err == nil || err == io.EOF || !IsOverloadCode(status.Code(err)))
	})
	return err
}

// record reports a sent call's outcome to t.
func record(t *overload.Throttle, accepted bool) {
	if accepted {
		t.Accept()
	} else {
		t.Refuse()
	}
}

func logNil(msg string) { slog.Error("overloadgrpc: " + msg) }
