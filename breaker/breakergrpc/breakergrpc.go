// Package breakergrpc puts paved circuit breakers in front of gRPC calls:
// unary and stream interceptors for servers (protecting the service's own
// handlers, one breaker per method) and clients (protecting calls to a
// dependency, one breaker per ClientConn target).
//
//	ic, err := breakergrpc.New(reg) // reg from breaker.NewRegistry; nil for defaults
//	...
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()))
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()))
//
// A rejected call never reaches the handler or the network and fails with
// codes.Unavailable carrying a google.rpc.RetryInfo detail with the time
// until the breaker half-opens; server interceptors also set the
// grpc-retry-pushback-ms trailer, which gRPC's built-in retries honour.
// On the client the error still unwraps to *breaker.OpenError, so
// errors.Is(err, breaker.ErrOpen) works.
//
// # Which calls fail
//
// A code counts as the HTTP status it maps to (grpc-gateway's mapping)
// counts in package breaker's HTTP adapters, so a service judged over
// HTTP and over gRPC opens on the same calls. On servers that is 5xx,
// as breaker.Middleware does; on clients 5xx and 429, as breaker.Transport
// does:
//
//	code                 HTTP  server    client
//	OK                   200   success   success
//	Canceled             499   ignored   ignored
//	Unknown              500   failure   failure
//	InvalidArgument      400   success   success
//	DeadlineExceeded     504   failure*  failure
//	NotFound             404   success   success
//	AlreadyExists        409   success   success
//	PermissionDenied     403   success   success
//	ResourceExhausted    429   success   failure
//	FailedPrecondition   400   success   success
//	Aborted              409   success   success
//	OutOfRange           400   success   success
//	Unimplemented        501   failure   failure
//	Internal             500   failure   failure
//	Unavailable          503   failure   failure
//	DataLoss             500   failure   failure
//	Unauthenticated      401   success   success
//
// On a server a call whose client is gone is ignored, whatever the
// handler returned: its context was canceled, or its deadline, the
// client's grpc-timeout, has passed (*), so the client gave up and a
// client with too short a deadline cannot open a method for everyone.
// DeadlineExceeded counts when the handler returns it while the call is
// still live: its own calls downstream timed out. ResourceExhausted is a
// success on servers, as 429 is for breaker.Middleware: one rate-limited
// client must not open the method for every other one; a client counts
// it, because its dependency is pushing back. On a client, a call that
// ended Canceled (the caller's context, or a ClientConn the caller closed)
// is ignored. Unimplemented counts as 501 does over HTTP; a method that
// answers it to every call opens its breaker, which then answers
// Unavailable. WithFailureCodes replaces the failure codes of both sides.
//
// # Handlers that hang
//
// A handler that hangs until every client gives up is never counted,
// since every such call is ignored: bound handlers with their own
// timeouts, whose DeadlineExceeded counts, or catch slowness with
// breaker.WithSlowCallThreshold on calls that do finish.
package breakergrpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/grpcx"
)

// Option configures the interceptors of New. Invalid options make New
// return an error.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	server, client uint32 // bit i set: codes.Code(i) is a failure
	key            func(ctx context.Context, fullMethod string) string
	err            error
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// bits returns the bit set of cs.
func bits(cs ...codes.Code) uint32 {
	var b uint32
	for _, c := range cs {
		b |= 1 << c
	}
	return b
}

// The codes whose HTTP status is 5xx, and 429 besides on clients, derived
// from the one code-to-status mapping so that gRPC and HTTP count the
// same calls as failures; see the package doc.
var defaultServerFailures, defaultClientFailures = func() (server, client uint32) {
	for c := codes.OK; c <= maxCode; c++ {
		switch s := grpcx.HTTPFromCode(c); {
		case s >= 500:
			server |= bits(c)
			client |= bits(c)
		case s == http.StatusTooManyRequests:
			client |= bits(c)
		}
	}
	return server, client
}()

// maxCode is the highest code gRPC defines.
const maxCode = codes.Unauthenticated

// WithFailureCodes sets the status codes that count as failures on both
// servers and clients, replacing the defaults of the package doc. Each
// must be a code gRPC defines, other than OK; an empty list, OK or an
// undefined code is an error from New.
func WithFailureCodes(cs ...codes.Code) Option {
	return optionFunc(func(c *config) {
		if len(cs) == 0 {
			c.fail(errors.New("breakergrpc: WithFailureCodes: no codes"))
			return
		}
		for _, code := range cs {
			if code == codes.OK || code > maxCode {
				c.fail(fmt.Errorf("breakergrpc: WithFailureCodes: %v cannot be a failure: not a gRPC error code", code))
				return
			}
		}
		c.server, c.client = bits(cs...), bits(cs...)
	})
}

// WithKey sets the registry key of a call (default: the full method name
// on servers, "/pkg.Service/Method"; the ClientConn's target on clients,
// one breaker per dependency). A nil key is an error from New.
func WithKey(key func(ctx context.Context, fullMethod string) string) Option {
	return optionFunc(func(c *config) {
		if key == nil {
			c.fail(errors.New("breakergrpc: WithKey: nil function"))
			return
		}
		c.key = key
	})
}

// Interceptors are the four gRPC interceptors of one breaker.Registry.
// They are safe for concurrent use; build them once with New.
type Interceptors struct {
	reg *breaker.Registry
	cfg *config
}

// New returns the interceptors for the breakers of r configured by opts.
// A nil r means a new breaker.Registry with the package defaults
// (breaker.NewRegistry()): one default breaker per method on servers and
// per target on clients. New fails on an invalid option.
func New(r *breaker.Registry, opts ...Option) (*Interceptors, error) {
	c := &config{server: defaultServerFailures, client: defaultClientFailures}
	for i, o := range opts {
		if o == nil {
			c.fail(fmt.Errorf("breakergrpc: option %d is nil", i))
			continue
		}
		o.apply(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	if r == nil {
		var err error
		if r, err = breaker.NewRegistry(); err != nil {
			return nil, fmt.Errorf("breakergrpc: %w", err)
		}
	}
	return &Interceptors{reg: r, cfg: c}, nil
}

// serverClassify judges a handler's call; see the package doc.
func (c *config) serverClassify(ctx context.Context, err error) breaker.Outcome {
	if err == nil {
		return breaker.Success
	}
	if ctx.Err() != nil { // the client canceled or its deadline passed: gone
		return breaker.Ignored
	}
	if c.server&(1<<codeOf(err)) != 0 {
		return breaker.Failure
	}
	return breaker.Success
}

// codeOf is err's gRPC code, with codes gRPC does not define read as
// Unknown, as gRPC's own clients do.
func codeOf(err error) codes.Code {
	if c := grpcx.Code(err); c <= maxCode {
		return c
	}
	return codes.Unknown
}

// clientClassify judges an outgoing call: one that ended Canceled (the
// caller's context, or a ClientConn the caller closed) says nothing about
// the peer.
func (c *config) clientClassify(ctx context.Context, err error) breaker.Outcome {
	if err == nil {
		return breaker.Success
	}
	code := codeOf(err)
	if code == codes.Canceled || errors.Is(ctx.Err(), context.Canceled) {
		return breaker.Ignored
	}
	if c.client&(1<<code) != 0 {
		return breaker.Failure
	}
	return breaker.Success
}

// rejected reports whether err is a breaker's own rejection of the call.
func rejected(err error) bool {
	_, ok := err.(*breaker.OpenError)
	return ok
}

// UnaryServerInterceptor protects unary handlers with the registry's
// breaker for each call (keyed by full method name by default).
func (ic *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	r, c := ic.reg, ic.cfg
	classify := c.serverClassify
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
func (ic *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	r, c := ic.reg, ic.cfg
	classify := c.serverClassify
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

// UnaryClientInterceptor protects outgoing unary calls with the
// registry's breaker for each call (keyed by the ClientConn's target by
// default). A rejected call fails with codes.Unavailable without being
// sent.
func (ic *Interceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	r, c := ic.reg, ic.cfg
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
