// Package authzgrpc serves an authz.Authorizer as gRPC server
// interceptors: each call is authenticated from its metadata and decided
// by the rules of its full method ("/pkg.Service/Method", given with
// authz.WithRoute), with the request message available to expressions as
// request.body, in its protobuf JSON form.
//
//	az, err := authz.New(
//		authz.WithAuthenticator(keys),
//		authz.WithRoute("/fleet.v1.Instances/Terminate",
//			authz.Allow("owner", `resource("instance", request.body.instanceId).compartment == principal.tenant`)),
//		authz.WithResolver("instance", lookupInstance),
//	)
//	ic, err := authzgrpc.New(az)
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()))
//	fleetpb.RegisterInstancesServer(srv, impl)
//	if err := ic.Check(srv); err != nil { ... } // a method without rules
//
// A call without credentials, or with bad ones, fails with
// UNAUTHENTICATED; a denied one with PERMISSION_DENIED (its message names
// the deciding rule, never a rule's text); a body too large or not JSON
// with INVALID_ARGUMENT; a lookup outage with UNAVAILABLE when
// authz.WithOutageStatus(503) asks for it, PERMISSION_DENIED otherwise.
// The principal and the resources the rules looked up are in the
// handler's context (authz.FromContext, authz.Resource). Metrics, span
// events, logs and dry run are the Authorizer's.
//
// Streams are decided when they open, before any message: their rules see
// request.body as nil.
package authzgrpc

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/grpcx"
)

// Option configures New.
type Option interface{ apply(*config) }

type config struct {
	body func(req any) ([]byte, error)
	errs []error
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithRequestBody sets how a unary call's request message becomes
// request.body: fn returns it as JSON. The default is protojson's form of
// a proto.Message (lowerCamelCase field names, 64-bit integers as
// strings) and no body for other messages.
func WithRequestBody(fn func(req any) ([]byte, error)) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			c.errs = append(c.errs, errors.New("authzgrpc: WithRequestBody: nil function"))
			return
		}
		c.body = fn
	})
}

// Interceptors authorizes incoming gRPC calls with an authz.Authorizer.
// Build it with New; it is safe for concurrent use.
type Interceptors struct {
	az   *authz.Authorizer
	body func(req any) ([]byte, error)
}

// New returns the interceptors of az. It fails on a nil az or a bad option.
func New(az *authz.Authorizer, opts ...Option) (*Interceptors, error) {
	c := config{body: protoJSON}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("authzgrpc: New: nil option"))
			continue
		}
		o.apply(&c)
	}
	if az == nil {
		c.errs = append(c.errs, errors.New("authzgrpc: New: nil *authz.Authorizer"))
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return &Interceptors{az: az, body: c.body}, nil
}

func protoJSON(req any) ([]byte, error) {
	m, ok := req.(proto.Message)
	if !ok {
		return nil, nil
	}
	return protojson.Marshal(m)
}

// headers adapts incoming metadata to authz.Headers.
type headers metadata.MD

func (h headers) Get(name string) string {
	v := metadata.MD(h).Get(name)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (i *Interceptors) authorize(ctx context.Context, fullMethod string, body func() ([]byte, error)) (context.Context, error) {
	if i == nil {
		return ctx, authz.ErrDenied
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ctx, _, err := i.az.Authorize(ctx, &authz.Call{
		Operation: fullMethod,
		Method:    "POST",
		Path:      fullMethod,
		Headers:   headers(md),
		Body:      body,
	})
	return ctx, err
}

// UnaryServerInterceptor returns an interceptor that authorizes every
// call before its handler runs. On a nil *Interceptors (a New error
// ignored) it denies every call, and logs that at Error.
func (i *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if i == nil {
		slog.Error("authzgrpc: UnaryServerInterceptor of a nil *Interceptors: every call is denied")
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := i.authorize(ctx, info.FullMethod, func() ([]byte, error) { return i.body(req) })
		if err != nil {
			return nil, grpcx.ServerError(ctx, err)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that authorizes every
// stream when it opens; request.body is nil for its rules. On a nil
// *Interceptors it denies every stream.
func (i *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	if i == nil {
		slog.Error("authzgrpc: StreamServerInterceptor of a nil *Interceptors: every stream is denied")
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := i.authorize(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return grpcx.StreamServerError(ss, err)
		}
		if ctx != ss.Context() {
			ss = &stream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// Check reports, joined, every method srv serves (a *grpc.Server after
// its services are registered) that has no rules and is not public, and
// every rule or public method it does not serve: authz's Check for gRPC.
func (i *Interceptors) Check(srv interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) error {
	var methods []string
	for name, svc := range srv.GetServiceInfo() {
		for _, m := range svc.Methods {
			methods = append(methods, "/"+name+"/"+m.Name)
		}
	}
	return i.az.Check(methods...)
}
