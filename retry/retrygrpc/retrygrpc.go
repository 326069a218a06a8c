// Package retrygrpc retries gRPC client calls with a retry.Retrier:
// backoff, budget and deadlines as in package retry, honouring the
// server's grpc-retry-pushback-ms trailer (a negative value means "do not
// retry") and google.rpc.RetryInfo details.
//
//	r, _ := retry.New("inventory", retry.WithAttemptTimeout(time.Second))
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(retrygrpc.UnaryClientInterceptor(r)),
//		grpc.WithChainStreamInterceptor(retrygrpc.StreamClientInterceptor(r)),
//		creds)
//
// By default Unavailable is retried, ResourceExhausted only when the
// server says when (pushback or RetryInfo), and DeadlineExceeded only when
// it was a per-attempt timeout (retry.WithAttemptTimeout), never the
// caller's own deadline nor one the server reports. Server-streaming calls
// are retried only until the first response message arrives, as one call
// from opening the stream (one request to the budget, at most the maximum
// attempts in all): when opening fails in a way worth retrying, the first
// RecvMsg reports the outcome. Client- and bidi-streaming calls are
// retried only when the stream cannot be opened. Put this interceptor
// outside (before) a breaker's, so an open breaker stops the retries at
// once.
//
// A failed call returns the last attempt's gRPC status error, as callers of
// gRPC expect.
//
// Use a Retrier without retry.WithHedging: the attempts of one call share
// its reply message and stream, so they must not overlap.
package retrygrpc

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/retry"
)

// Option configures the interceptors.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	codes map[codes.Code]bool
}

// WithCodes replaces the retryable codes (default Unavailable,
// ResourceExhausted, DeadlineExceeded, with the conditions in the package
// documentation still applying to the last two).
func WithCodes(cs ...codes.Code) Option {
	return optionFunc(func(c *config) {
		c.codes = make(map[codes.Code]bool, len(cs))
		for _, code := range cs {
			c.codes[code] = true
		}
	})
}

func newConfig(opts []Option) *config {
	c := &config{codes: map[codes.Code]bool{codes.Unavailable: true, codes.ResourceExhausted: true, codes.DeadlineExceeded: true}}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

const pushbackKey = "grpc-retry-pushback-ms"

// classify turns an attempt's error into what package retry understands:
// Permanent for codes not worth retrying, After for server hints.
// attemptTimedOut reports whether the attempt's own context ran out, the
// only DeadlineExceeded worth retrying.
func (c *config) classify(err error, trailer metadata.MD, attemptTimedOut bool) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok || !c.codes[st.Code()] || st.Code() == codes.DeadlineExceeded && !attemptTimedOut {
		return retry.Permanent(err)
	}
	if v := trailer.Get(pushbackKey); len(v) > 0 {
		ms, perr := strconv.ParseInt(v[0], 10, 64)
		switch {
		case perr != nil || ms < 0:
			return retry.Permanent(err) // malformed or negative: the server says no
		case ms > math.MaxInt64/int64(time.Millisecond):
			return retry.After(err, math.MaxInt64) // saturate: beyond any cap
		default:
			return retry.After(err, time.Duration(ms)*time.Millisecond)
		}
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return retry.After(err, ri.GetRetryDelay().AsDuration())
		}
	}
	if st.Code() == codes.ResourceExhausted {
		return retry.Permanent(err) // no hint: retrying a quota error blindly only adds load
	}
	return err
}

// grpcError returns the gRPC status error inside a retry error, so callers
// see the code and message the server sent.
func grpcError(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.(error)
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

// UnaryClientInterceptor retries unary calls with r.
func UnaryClientInterceptor(r *retry.Retrier, opts ...Option) grpc.UnaryClientInterceptor {
	cfg := newConfig(opts)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		err := r.Do(ctx, func(ctx context.Context) error {
			var trailer metadata.MD
			err := invoker(ctx, method, req, reply, cc, append(callOpts[:len(callOpts):len(callOpts)], grpc.Trailer(&trailer))...)
			return cfg.classify(err, trailer, err != nil && deadlinePassed(ctx))
		})
		if err != nil {
			return grpcError(err)
		}
		return nil
	}
}

// StreamClientInterceptor retries streaming calls with r: server-streaming
// calls until the first response arrives, others only while opening.
func StreamClientInterceptor(r *retry.Retrier, opts ...Option) grpc.StreamClientInterceptor {
	cfg := newConfig(opts)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		if desc.ClientStreams {
			var cs grpc.ClientStream
			err := r.Do(ctx, func(actx context.Context) error {
				var err error
				// The stream outlives this attempt function, so it runs on
				// the caller's context, not the attempt's.
				cs, err = streamer(ctx, desc, cc, method, callOpts...)
				return cfg.classify(err, nil, false)
			})
			if err != nil {
				return nil, grpcError(err)
			}
			return cs, nil
		}
		// A server-streaming call is retried by its first RecvMsg, as one
		// call: a second retry loop here would count the call twice in the
		// budget and allow twice the attempts.
		s := &serverStream{ctx: ctx, r: r, cfg: cfg, open: func() (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, callOpts...)
		}}
		cs, err := s.open()
		if err != nil {
			if st, ok := status.FromError(err); !ok || !cfg.codes[st.Code()] {
				return nil, err
			}
			s.openErr = err // the first attempt; RecvMsg retries
		}
		s.ClientStream = cs
		return s, nil
	}
}

// serverStream retries a server-streaming call until its first response:
// it keeps the request message and replays it on a new stream.
type serverStream struct {
	grpc.ClientStream
	ctx  context.Context
	r    *retry.Retrier
	cfg  *config
	open func() (grpc.ClientStream, error)

	openErr error // opening the stream failed; ClientStream is nil until a retry opens one

	mu       sync.Mutex
	sent     []any
	closed   bool
	received bool
}

func (s *serverStream) current() grpc.ClientStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ClientStream
}

func (s *serverStream) SendMsg(m any) error {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	cs := s.ClientStream
	s.mu.Unlock()
	if cs == nil {
		return nil // replayed once a stream opens
	}
	return cs.SendMsg(m)
}

func (s *serverStream) CloseSend() error {
	s.mu.Lock()
	s.closed = true
	cs := s.ClientStream
	s.mu.Unlock()
	if cs == nil {
		return nil
	}
	return cs.CloseSend()
}

func (s *serverStream) Header() (metadata.MD, error) {
	if cs := s.current(); cs != nil {
		return cs.Header()
	}
	return nil, s.openErr
}

func (s *serverStream) Trailer() metadata.MD {
	if cs := s.current(); cs != nil {
		return cs.Trailer()
	}
	return nil
}

func (s *serverStream) Context() context.Context {
	if cs := s.current(); cs != nil {
		return cs.Context()
	}
	return s.ctx
}

func (s *serverStream) RecvMsg(m any) error {
	if s.received {
		return s.current().RecvMsg(m)
	}
	first := true
	err := s.r.Do(s.ctx, func(context.Context) error {
		cs := s.current()
		if first && cs == nil {
			first = false
			return s.cfg.classify(s.openErr, nil, false) // the failed opening was the first attempt
		}
		if !first {
			var err error
			if cs, err = s.replay(); err != nil {
				return s.cfg.classify(err, nil, false)
			}
		}
		first = false
		err := cs.RecvMsg(m)
		if err == nil || errors.Is(err, io.EOF) {
			return retry.Permanent(err) // nil stays nil; EOF is an answer
		}
		return s.cfg.classify(err, cs.Trailer(), false)
	})
	if err == nil {
		s.received = true
		return nil
	}
	if errors.Is(err, io.EOF) {
		s.received = true
		return io.EOF
	}
	return grpcError(err)
}

// replay opens a new stream and sends it what the caller sent so far.
func (s *serverStream) replay() (grpc.ClientStream, error) {
	cs, err := s.open()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	sent, closed := s.sent, s.closed
	s.ClientStream = cs
	s.mu.Unlock()
	for _, m := range sent {
		if err := cs.SendMsg(m); err != nil {
			return nil, err
		}
	}
	if closed {
		if err := cs.CloseSend(); err != nil {
			return nil, err
		}
	}
	return cs, nil
}
