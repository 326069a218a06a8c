// Package pavedgrpc answers errors over gRPC the way paved answers them
// over HTTP: every error of the vocabulary (paved.NewError, paved's own
// errors, any error declaring HTTPStatus() int) becomes a status with the
// code google.rpc.Code pairs with its HTTP status, and its retry delay
// becomes a google.rpc.RetryInfo detail and the grpc-retry-pushback-ms
// trailer that gRPC's built-in retry honours.
//
// paved's interceptors already answer this way; use this package for the
// errors of your own handlers:
//
//	func (s *server) Launch(ctx context.Context, req *pb.LaunchRequest) (*pb.Instance, error) {
//		inst, err := s.launch(ctx, req)
//		if err != nil {
//			return nil, pavedgrpc.ServerError(ctx, err)
//		}
//		return inst, nil
//	}
//
// The mapping:
//
//	HTTP status           gRPC code
//	400, 413, 415         InvalidArgument
//	401                   Unauthenticated
//	403                   PermissionDenied
//	404                   NotFound
//	409                   Aborted
//	412, other 4xx        FailedPrecondition
//	416                   OutOfRange
//	429                   ResourceExhausted
//	499 (client gone)     Canceled
//	405, 501              Unimplemented
//	502, 503              Unavailable
//	504                   DeadlineExceeded
//	other 5xx             Internal
//
// context.DeadlineExceeded and context.Canceled map through 504 and 499.
// An error that already is a gRPC status (from a client call to another
// service) keeps its status. Any other error is Unknown with the message
// "unknown error": its own text may name internal addresses or
// credentials and is never sent; log it yourself.
package pavedgrpc

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/internal/httpx"
)

// unknownMessage is the whole message of a foreign error's status.
const unknownMessage = "unknown error"

// Code reports the gRPC code for err: OK for nil, the code of a gRPC
// status error in err's chain, the code paired with the HTTP status of an
// error of the vocabulary (see the package documentation), and Unknown
// for any other error.
func Code(err error) codes.Code { return grpcx.Code(err) }

// Status returns the gRPC status for err: an OK status for nil; the
// status of a gRPC status error in err's chain, without the text wrapped
// around it; for an error of the vocabulary or a context error, Code(err)
// with the message of the error that decides the code (never the text
// wrapped around it) and, when err carries a retry delay, a
// google.rpc.RetryInfo detail; for any other error Unknown with the
// message "unknown error".
func Status(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if gs, ok := errors.AsType[grpcStatusError](err); ok {
		if s := gs.GRPCStatus(); s != nil {
			return s
		}
		return status.New(codes.Unknown, unknownMessage)
	}
	if !httpx.Public(err) {
		return status.New(codes.Unknown, unknownMessage)
	}
	s := status.New(grpcx.CodeFromHTTP(httpx.StatusOf(err)), httpx.PublicMessage(err))
	if d, ok := httpx.RetryDelayOf(err); ok {
		if ds, derr := s.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(max(d, 0))}); derr == nil {
			s = ds
		}
	}
	return s
}

// Error returns Status(err) as an error for a handler to return: nil for
// nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return Status(err).Err()
}

// ServerError is Error for the handler of the call in ctx (for a stream,
// its Context()): when err carries a retry delay, it also sets the
// grpc-retry-pushback-ms trailer to it, in whole milliseconds rounded up,
// so a client's built-in retry waits that long before trying again.
func ServerError(ctx context.Context, err error) error {
	if d, ok := httpx.RetryDelayOf(err); ok {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(grpcx.RetryPushbackKey, grpcx.PushbackValue(d)))
	}
	return Error(err)
}

// grpcStatusError is an error that carries a gRPC status, as the errors
// of status.Error and of gRPC client calls do.
type grpcStatusError interface {
	error
	GRPCStatus() *status.Status
}
