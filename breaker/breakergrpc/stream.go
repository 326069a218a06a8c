package breakergrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// StreamClientInterceptor protects outgoing streams with the registry's
// breaker (keyed by the ClientConn's target by default). A stream counts as one call,
// from its creation until gRPC finishes it: RecvMsg returns io.EOF (a
// success) or an error, SendMsg fails, the stream's context is done, or
// the ClientConn is closed (ignored, like a canceled call). Until then it
// holds its place in the breaker, as a probe when half-open. As gRPC
// itself asks, read every stream to its end, cancel its context or close
// the ClientConn.
//
// A breaker call cannot outlive the function it runs, so each stream's
// call is held open by one goroutine, which ends with the stream; gRPC
// reports the end through a grpc.OnFinish call option the interceptor adds.
func (ic *Interceptors) StreamClientInterceptor() grpc.StreamClientInterceptor {
	r, c := ic.reg, ic.cfg
	classify := c.clientClassify
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		b := r.Get(c.clientKey(ctx, cc, method))
		started := make(chan started, 1)
		end := make(chan error, 1)
		done := make(chan struct{})
		// gRPC calls OnFinish once, however the stream ends, including
		// when the ClientConn closes, which no method of the stream need
		// ever report.
		opts = append(opts[:len(opts):len(opts)], grpc.OnFinish(func(err error) { report(end, err) }))
		go func() {
			defer close(done)
			ran := false
			err := b.DoWith(ctx, classify, func(ctx context.Context) (err error) {
				ran = true
				defer func() {
					if p := recover(); p != nil {
						started <- startedPanic(p)
						err = fmt.Errorf("breakergrpc: streamer panicked: %v", p)
					}
				}()
				cs, err := streamer(ctx, desc, cc, method, opts...)
				if err != nil {
					started <- startedErr(err)
					return err
				}
				started <- startedStream(&clientStream{ClientStream: cs, end: end, done: done, unaryResponse: !desc.ServerStreams})
				select {
				case err := <-end:
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if !ran {
				started <- startedErr(err)
			}
		}()
		s := <-started
		switch {
		case s.panicked != nil:
			panic(s.panicked)
		case rejected(s.err):
			return nil, clientRejection(s.err)
		case s.err != nil:
			return nil, s.err
		}
		return s.cs, nil
	}
}

type started struct {
	cs       grpc.ClientStream
	err      error
	panicked any
}

func startedErr(err error) started               { return started{err: err} }
func startedPanic(p any) started                 { return started{panicked: p} }
func startedStream(cs grpc.ClientStream) started { return started{cs: cs} }

// clientStream reports the end of a stream, once, to the goroutine holding
// its breaker call, and waits until the outcome is counted, so a caller
// that saw the stream end sees the breaker's new counts and state.
type clientStream struct {
	grpc.ClientStream
	end           chan<- error    // buffered; see report
	done          <-chan struct{} // closed when the breaker call returned
	unaryResponse bool            // one response message ends the stream
	ended         atomic.Bool
}

func (s *clientStream) finish(err error) {
	if s.ended.CompareAndSwap(false, true) {
		report(s.end, err)
		<-s.done
	}
}

// report hands the end of a stream to the goroutine holding its breaker
// call. Only the first report counts: gRPC's OnFinish and the stream's
// methods may both report one end.
func report(end chan<- error, err error) {
	select {
	case end <- err:
	default:
	}
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.finish(nil)
	case err != nil:
		s.finish(err)
	case s.unaryResponse:
		s.finish(nil)
	}
	return err
}

// SendMsg returns io.EOF when the stream ended; its status then comes from
// RecvMsg. Other errors end the stream.
func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		s.finish(err)
	}
	return err
}

func (s *clientStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil && !errors.Is(err, io.EOF) {
		s.finish(err)
	}
	return md, err
}
