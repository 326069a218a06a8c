package retrygrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/retry"
)

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

// SendMsg sends m and keeps it for a replay. io.EOF from the stream means
// the server has ended it; as grpc-go does for calls with one request,
// that is not reported here, since RecvMsg reports (and retries) the
// status.
func (s *serverStream) SendMsg(m any) error {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	cs := s.ClientStream
	s.mu.Unlock()
	if cs == nil {
		return nil // replayed once a stream opens
	}
	if err := cs.SendMsg(m); err != io.EOF {
		return err
	}
	return nil
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
	return grpcx.StatusError(err)
}

// replay opens a new stream and sends it what the caller sent so far. A
// stream the server has already ended (SendMsg's io.EOF) is returned as
// is: its status comes from RecvMsg, as grpc.ClientStream's contract says.
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
		if err := cs.SendMsg(m); err == io.EOF {
			return cs, nil
		} else if err != nil {
			return nil, err
		}
	}
	if closed {
		if err := cs.CloseSend(); err != nil && err != io.EOF {
			return nil, err
		}
	}
	return cs, nil
}
