package retrygrpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/retry"
)

// Option configures the Interceptors.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// codeSet is a set of gRPC codes, one bit each (codes 0 to 16).
type codeSet uint32

func (s codeSet) has(c codes.Code) bool { return c < 32 && s&(1<<c) != 0 }

// maxCode is the highest code gRPC defines (Unauthenticated).
const maxCode = codes.Unauthenticated

type config struct {
	codes codeSet
	errs  []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("retrygrpc: "+format, args...))
}

// WithCodes replaces the retryable codes (default Unavailable,
// ResourceExhausted and DeadlineExceeded, the conditions in the package
// documentation still applying to the last two). An empty list, OK or a
// code gRPC does not define is an error from New.
func WithCodes(cs ...codes.Code) Option {
	return optionFunc(func(c *config) {
		if len(cs) == 0 {
			c.fail("WithCodes: no codes")
			return
		}
		var set codeSet
		for _, code := range cs {
			if code == codes.OK || code > maxCode {
				c.fail("WithCodes: %v is not a failure code", code)
				return
			}
			set |= 1 << code
		}
		c.codes = set
	})
}

// Interceptors retries gRPC client calls with a retry.Retrier. It is safe
// for concurrent use; make one per upstream.
type Interceptors struct {
	r   *retry.Retrier
	cfg config
}

// New returns interceptors that retry calls with r, configured by opts,
// or an error naming every invalid option. A nil r means a Retrier with
// package retry's defaults, named "default"; a Retrier that hedges is an
// error.
func New(r *retry.Retrier, opts ...Option) (*Interceptors, error) {
	cfg := config{codes: 1<<codes.Unavailable | 1<<codes.ResourceExhausted | 1<<codes.DeadlineExceeded}
	for i, o := range opts {
		if o == nil {
			cfg.fail("New: option %d is nil", i)
			continue
		}
		o.apply(&cfg)
	}
	if r != nil && r.Hedges() {
		cfg.fail("New: retrier %q hedges; the attempts of a gRPC call share its reply and must not overlap", r.Name())
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, err
	}
	if r == nil {
		var err error
		if r, err = retry.New("default"); err != nil {
			return nil, err
		}
	}
	return &Interceptors{r: r, cfg: cfg}, nil
}

// classify turns an attempt's error into what package retry understands:
// Permanent for codes not worth retrying, After for server hints.
// attemptTimedOut reports whether the attempt's own context ran out, the
// only DeadlineExceeded worth retrying.
func (c *config) classify(err error, trailer metadata.MD, attemptTimedOut bool) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok || !c.codes.has(st.Code()) || st.Code() == codes.DeadlineExceeded && !attemptTimedOut {
		return retry.Permanent(err)
	}
	if d, ok := grpcx.Pushback(trailer); ok {
		return retry.After(err, d) // negative: the server says no
	}
	if d, ok := grpcx.RetryInfoDelay(st); ok {
		return retry.After(err, d)
	}
	if st.Code() == codes.ResourceExhausted {
		return retry.Permanent(err) // no hint: retrying a quota error blindly only adds load
	}
	return err
}

// deadlinePassed reports whether ctx's deadline has come, even if its
// timer has not fired yet: gRPC reports DeadlineExceeded by the clock.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// UnaryClientInterceptor returns the interceptor that retries unary calls.
func (ic *Interceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		u := &unaryCall{cfg: &ic.cfg, method: method, req: req, reply: reply, cc: cc, invoker: invoker}
		u.opts = append(append(u.buf[:0], callOpts...), grpc.Trailer(&u.trailer))
		if err := ic.r.Do(ctx, u.attempt); err != nil {
			return grpcx.StatusError(err)
		}
		return nil
	}
}

// unaryCall is one unary call: one allocation holds what its attempts
// need, the call options with the trailer option included.
type unaryCall struct {
	cfg     *config
	method  string
	req     any
	reply   any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	buf     [4]grpc.CallOption
	trailer metadata.MD
}

func (u *unaryCall) attempt(ctx context.Context) error {
	u.trailer = nil // not the previous attempt's
	err := u.invoker(ctx, u.method, u.req, u.reply, u.cc, u.opts...)
	return u.cfg.classify(err, u.trailer, err != nil && deadlinePassed(ctx))
}

// StreamClientInterceptor returns the interceptor that retries streaming
// calls: server-streaming calls until the first response arrives, others
// only while opening.
func (ic *Interceptors) StreamClientInterceptor() grpc.StreamClientInterceptor {
	cfg := &ic.cfg
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		if desc.ClientStreams {
			var cs grpc.ClientStream
			err := ic.r.Do(ctx, func(actx context.Context) error {
				var err error
				// The stream outlives this attempt function, so it runs on
				// the caller's context, not the attempt's.
				cs, err = streamer(ctx, desc, cc, method, callOpts...)
				return cfg.classify(err, nil, false)
			})
			if err != nil {
				return nil, grpcx.StatusError(err)
			}
			return cs, nil
		}
		// A server-streaming call is retried by its first RecvMsg, as one
		// call: a second retry loop here would count the call twice in the
		// budget and allow twice the attempts.
		s := &serverStream{ctx: ctx, r: ic.r, cfg: cfg, open: func() (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, callOpts...)
		}}
		cs, err := s.open()
		if err != nil {
			if st, ok := status.FromError(err); !ok || !cfg.codes.has(st.Code()) {
				return nil, err
			}
			s.openErr = err // the first attempt; RecvMsg retries
		}
		s.ClientStream = cs
		return s, nil
	}
}
