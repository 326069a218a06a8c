package pavedgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
// wrapped around it) and, when err carries a retry delay that is not
// negative, a google.rpc.RetryInfo detail; for any other error Unknown with the
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
	return status.Convert(grpcx.Error(err)) // the mapping paved's own interceptors use
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
// so a client's built-in retry waits that long before trying again; a
// negative delay (retry.After(err, -1), "do not retry") is sent as -1,
// which tells the client not to retry.
func ServerError(ctx context.Context, err error) error {
	grpcx.SetPushback(ctx, err)
	return Error(err)
}

// grpcStatusError is an error that carries a gRPC status, as the errors
// of status.Error and of gRPC client calls do.
type grpcStatusError interface {
	error
	GRPCStatus() *status.Status
}
