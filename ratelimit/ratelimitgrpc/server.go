package ratelimitgrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/ratelimit"
)

// Policy is a named rate limit for gRPC calls: the limiter that holds the
// buckets and the key function that picks a call's bucket.
type Policy struct {
	// Name identifies the policy as the paved.ratelimit.policy metric
	// attribute and in errors. It must be printable ASCII and not empty,
	// unless Limiter is nil.
	Name string
	// Limiter holds the buckets, usually a *ratelimit.Keyed. A nil Limiter
	// limits nothing.
	Limiter ratelimit.Decider
	// Key picks a call's bucket. nil means PeerIP, except with a
	// *ratelimit.Limiter, whose one bucket serves every caller: no key is
	// computed for it.
	Key KeyFunc
}

// Interceptors limits incoming calls per caller: the policy WithMethod
// gives a call's method or service, or else the default one. Build it
// with New; its UnaryServerInterceptor and StreamServerInterceptor share
// its buckets. It is safe for concurrent use.
type Interceptors struct {
	def     *policy
	methods map[string]*policy // by full method or "/service/"; a nil policy exempts
	filter  func(context.Context, string) bool
}

type policy struct {
	*ratelimit.Enforcer
	key KeyFunc // nil: the limiter has one bucket and needs no key
}

// New returns the server interceptors of the default policy def and the
// per-method policies of WithMethod. A def with a nil Limiter limits only
// the methods WithMethod names; at least one policy must have a limiter,
// and every such policy a printable ASCII name. Option errors, and those
// of ratelimit.NewEnforcer, which every policy is built with, are
// returned here.
func New(def Policy, opts ...Option) (*Interceptors, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	i := &Interceptors{filter: c.filter}
	if i.def, err = compile(&c, def); err != nil {
		return nil, err
	}
	limited := i.def != nil
	for _, m := range c.methods {
		if _, dup := i.methods[m.name]; dup {
			return nil, errors.New("ratelimitgrpc: WithMethod: " + m.name + " given twice")
		}
		p, err := compile(&c, m.policy)
		if err != nil {
			return nil, err
		}
		if i.methods == nil {
			i.methods = make(map[string]*policy, len(c.methods))
		}
		i.methods[m.name] = p
		limited = limited || p != nil
	}
	if !limited {
		return nil, errors.New("ratelimitgrpc: New: no policy has a limiter")
	}
	return i, nil
}

func compile(c *config, p Policy) (*policy, error) {
	if p.Limiter == nil {
		return nil, nil
	}
	e, err := ratelimit.NewEnforcer(p.Name, p.Limiter, c.enforcer...)
	if err != nil {
		return nil, fmt.Errorf("ratelimitgrpc: policy %q: %w", p.Name, err)
	}
	cp := &policy{Enforcer: e, key: p.Key}
	if _, one := p.Limiter.(*ratelimit.Limiter); cp.key == nil && !one {
		cp.key = PeerIP
	}
	return cp, nil
}

// UnaryServerInterceptor returns an interceptor that takes a token for
// every call from the bucket its policy's key picks. A limited call fails
// with RESOURCE_EXHAUSTED carrying a google.rpc.RetryInfo detail and the
// grpc-retry-pushback-ms trailer, which gRPC's own retry honours; a call
// without a key fails with INVALID_ARGUMENT unless WithAnonymousKey names
// a shared bucket. When the limiter itself fails the call goes through
// and the failure is logged. Decisions are counted in
// paved.ratelimit.decisions and limited ones add a ratelimit.limited span
// event.
//
// On a nil *Interceptors (a New error ignored) the interceptors limit
// nothing, and an Error log line (slog.Default()) says so.
func (i *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if i == nil {
		logNil("UnaryServerInterceptor of a nil *Interceptors: calls are not rate limited")
		return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(ctx, req)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := i.check(ctx, info.FullMethod); err != nil {
			return nil, grpcx.ServerError(ctx, err)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: a stream
// takes one token when it opens, whatever it carries afterwards.
func (i *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	if i == nil {
		logNil("StreamServerInterceptor of a nil *Interceptors: streams are not rate limited")
		return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			return handler(srv, ss)
		}
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := i.check(ss.Context(), info.FullMethod); err != nil {
			return grpcx.StreamServerError(ss, err)
		}
		return handler(srv, ss)
	}
}

// policyFor returns the policy of a method: its own, its service's, or
// the default.
func (i *Interceptors) policyFor(fullMethod string) *policy {
	if i.methods != nil {
		if p, ok := i.methods[fullMethod]; ok {
			return p
		}
		if j := strings.LastIndexByte(fullMethod, '/'); j > 0 {
			if p, ok := i.methods[fullMethod[:j+1]]; ok {
				return p
			}
		}
	}
	return i.def
}

// oneBucket is the key of calls to a policy whose limiter has one bucket:
// the limiter ignores it, and it is never empty.
const oneBucket = "*"

// check decides one call and returns the error to fail it with, or nil.
func (i *Interceptors) check(ctx context.Context, fullMethod string) error {
	p := i.policyFor(fullMethod)
	if p == nil || (i.filter != nil && !i.filter(ctx, fullMethod)) {
		return nil
	}
	key := oneBucket
	if p.key != nil {
		var err error
		if key, err = p.key(ctx); err != nil {
			key = "" // not the error's text: it may quote the metadata it failed on
		}
	}
	return p.Allow(ctx, fullMethod, key) // gRPC sends no rate-limit headers
}

// logNil logs an adapter of a nil value, which limits nothing: an error
// its constructor returned was ignored.
func logNil(msg string) { slog.Error("ratelimitgrpc: " + msg) }
