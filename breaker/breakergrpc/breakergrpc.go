// Package breakergrpc puts paved circuit breakers in front of gRPC calls:
// unary and stream interceptors for servers (protecting the service's own
// handlers) and clients (protecting calls to a dependency).
//
// A rejected call never reaches the handler or the network and fails with
// codes.Unavailable carrying a google.rpc.RetryInfo detail with the time
// until the breaker half-opens; server interceptors also set the
// grpc-retry-pushback-ms trailer, which gRPC's built-in retries honour.
// On the client the error still unwraps to *breaker.OpenError, so
// errors.Is(err, breaker.ErrOpen) works.
//
// Which codes count as failures is configurable (WithFailureCodes); by
// default Unavailable, DeadlineExceeded, Internal, Unknown and
// ResourceExhausted do. Other codes (InvalidArgument, NotFound,
// PermissionDenied, ...) are successes, since the peer answered, and a
// call whose caller canceled its context is ignored; on clients, so is any
// call that ended Canceled (a closed ClientConn, for one).
//
//	reg, err := breaker.NewRegistry()
//	...
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(breakergrpc.UnaryClientInterceptor(reg)),
//		grpc.WithChainStreamInterceptor(breakergrpc.StreamClientInterceptor(reg)))
package breakergrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/grpcx"
)

// Option configures an interceptor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	failures uint32 // bit i set: codes.Code(i) is a failure
	key      func(ctx context.Context, fullMethod string) string
}

// defaultFailureCodes are the codes counted as failures unless
// WithFailureCodes says otherwise.
var defaultFailureCodes = []codes.Code{
	codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.ResourceExhausted,
}

func newConfig(opts []Option) *config {
	c := &config{}
	WithFailureCodes(defaultFailureCodes...).apply(c)
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// WithFailureCodes sets the status codes that count as failures, replacing
// the default Unavailable, DeadlineExceeded, Internal, Unknown and
// ResourceExhausted. OK never does.
func WithFailureCodes(cs ...codes.Code) Option {
	return optionFunc(func(c *config) {
		c.failures = 0
		for _, code := range cs {
			if code > codes.OK && code < 32 {
				c.failures |= 1 << code
			}
		}
	})
}

// WithKey sets the registry key of a call (default: the full method name
// on servers, "/pkg.Service/Method"; the ClientConn's target on clients,
// one breaker per dependency). A nil key keeps the default.
func WithKey(key func(ctx context.Context, fullMethod string) string) Option {
	return optionFunc(func(c *config) { c.key = key })
}

// classify judges a call by its status code; see the package doc.
func (c *config) classify(ctx context.Context, err error) breaker.Outcome {
	if err == nil {
		return breaker.Success
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return breaker.Ignored
	}
	if code := grpcx.Code(err); code >= 32 || c.failures&(1<<code) != 0 {
		return breaker.Failure
	}
	return breaker.Success
}

func registryOrDefault(r *breaker.Registry) *breaker.Registry {
	if r == nil {
		r, _ = breaker.NewRegistry() // cannot fail without options
	}
	return r
}

// rejected reports whether err is a breaker's own rejection of the call.
func rejected(err error) bool {
	_, ok := err.(*breaker.OpenError)
	return ok
}

// UnaryServerInterceptor protects unary handlers with r's breaker for each
// call (keyed by full method name by default). A nil r means a new
// Registry with default options.
func UnaryServerInterceptor(r *breaker.Registry, opts ...Option) grpc.UnaryServerInterceptor {
	r = registryOrDefault(r)
	c := newConfig(opts)
	classify := c.classify
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key := info.FullMethod
		if c.key != nil {
			key = c.key(ctx, info.FullMethod)
		}
		var resp any
		err := r.Get(key).DoWith(ctx, classify, func(ctx context.Context) error {
			var err error
			resp, err = handler(ctx, req)
			return err
		})
		if rejected(err) {
			return nil, grpcx.ServerError(ctx, err)
		}
		return resp, err
	}
}

// StreamServerInterceptor protects stream handlers like
// UnaryServerInterceptor; a stream's outcome is its handler's final
// status, so a slow-call threshold would count long-lived streams as slow.
func StreamServerInterceptor(r *breaker.Registry, opts ...Option) grpc.StreamServerInterceptor {
	r = registryOrDefault(r)
	c := newConfig(opts)
	classify := c.classify
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		key := info.FullMethod
		if c.key != nil {
			key = c.key(ctx, info.FullMethod)
		}
		err := r.Get(key).DoWith(ctx, classify, func(context.Context) error {
			return handler(srv, ss)
		})
		if rejected(err) {
			return grpcx.StreamServerError(ss, err)
		}
		return err
	}
}

// clientClassify is classify for calls this process makes: a call that
// ended Canceled (the caller's context, or a ClientConn the caller
// closed) says nothing about the peer, so it is ignored.
func (c *config) clientClassify(ctx context.Context, err error) breaker.Outcome {
	if status.Code(err) == codes.Canceled {
		return breaker.Ignored
	}
	return c.classify(ctx, err)
}

// UnaryClientInterceptor protects outgoing unary calls with r's breaker
// for each call (keyed by the ClientConn's target by default). A rejected
// call fails with codes.Unavailable without being sent. A nil r means a
// new Registry with default options.
func UnaryClientInterceptor(r *breaker.Registry, opts ...Option) grpc.UnaryClientInterceptor {
	r = registryOrDefault(r)
	c := newConfig(opts)
	classify := c.clientClassify
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := r.Get(c.clientKey(ctx, cc, method)).DoWith(ctx, classify, func(ctx context.Context) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		})
		if rejected(err) {
			return clientRejection(err)
		}
		return err
	}
}

func (c *config) clientKey(ctx context.Context, cc *grpc.ClientConn, method string) string {
	if c.key != nil {
		return c.key(ctx, method)
	}
	return cc.Target()
}

// rejection is a client-side rejection: a gRPC status for callers that
// read codes, unwrapping to the *breaker.OpenError for callers that use
// errors.Is/As.
type rejection struct {
	open *breaker.OpenError
	st   *status.Status
}

func clientRejection(err error) error {
	return &rejection{open: err.(*breaker.OpenError), st: status.Convert(grpcx.Error(err))}
}

func (e *rejection) Error() string              { return e.st.Err().Error() }
func (e *rejection) GRPCStatus() *status.Status { return e.st }
func (e *rejection) Unwrap() error              { return e.open }
