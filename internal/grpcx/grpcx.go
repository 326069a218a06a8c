// Package grpcx is the gRPC plumbing the project's *grpc packages share.
// It maps the project's errors to gRPC statuses, so every interceptor
// returns proper codes (never codes.Unknown) for them, following the HTTP
// <-> gRPC correspondence of google.rpc.Code and reading the HTTP status
// each error declares through httpx.StatusCoder. It writes retry hints
// (the grpc-retry-pushback-ms trailer, google.rpc.RetryInfo) on the server
// side and reads them on the client side, and finds the status error a
// caller should see inside a wrapped error.
package grpcx

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/paved-go/paved/internal/httpx"
)

// RetryPushbackKey is the trailer gRPC clients read as a server's retry
// hint, in milliseconds; a negative value means "do not retry".
const RetryPushbackKey = "grpc-retry-pushback-ms"

// Pushback reads the server's retry hint from the RetryPushbackKey
// trailer in md. ok is false when there is none. As gRPC's retry design
// (A6) asks, a negative or malformed value means "do not retry" and comes
// back as a negative d; a value beyond what a time.Duration holds
// saturates.
func Pushback(md metadata.MD) (d time.Duration, ok bool) {
	v := md.Get(RetryPushbackKey)
	if len(v) == 0 {
		return 0, false
	}
	ms, err := strconv.ParseInt(v[0], 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange) && len(v[0]) > 0 && v[0][0] != '-':
		return math.MaxInt64, true
	case err != nil || ms < 0:
		return -1, true
	case ms > math.MaxInt64/int64(time.Millisecond):
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// RetryInfoDelay returns the delay of the google.rpc.RetryInfo detail in
// st, the hint Error attaches, and false when st has none.
func RetryInfoDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// StatusError returns the first error in err's chain that carries a gRPC
// status (a GRPCStatus method), so a caller sees the code and message the
// server sent rather than a wrapper's text; err itself when there is none.
func StatusError(err error) error {
	if se, ok := errors.AsType[interface {
		error
		GRPCStatus() *status.Status
	}](err); ok {
		return se
	}
	return err
}

// CodeFromHTTP maps an HTTP status to the gRPC code google.rpc.Code pairs
// with it.
func CodeFromHTTP(status int) codes.Code {
	switch status {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusRequestedRangeNotSatisfiable:
		return codes.OutOfRange
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case httpx.StatusClientClosedRequest:
		return codes.Canceled
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	switch {
	case status >= 200 && status < 300:
		return codes.OK
	case status >= 400 && status < 500:
		return codes.FailedPrecondition
	}
	return codes.Internal
}

// HTTPFromCode maps a gRPC code to the HTTP status google.rpc.Code pairs
// with it.
func HTTPFromCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return httpx.StatusClientClosedRequest
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Code reports the gRPC code for err: the code of a gRPC status error, the
// code paired with the HTTP status a project error declares, the context
// codes for context errors, and codes.Unknown only for foreign errors.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	if _, ok := errors.AsType[httpx.StatusCoder](err); ok || httpx.Public(err) {
		return CodeFromHTTP(httpx.StatusOf(err))
	}
	return codes.Unknown
}

// Error converts err into a gRPC status error. Status errors are returned
// unchanged and foreign errors too (gRPC reports them as Unknown, without
// this package guessing); the project's errors and context errors become a
// status with the mapped code and httpx.PublicMessage(err) (never the text
// wrapped around them, which may name internal addresses), plus a
// google.rpc.RetryInfo detail when err carries a retry delay.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	c := Code(err)
	if c == codes.Unknown {
		return err
	}
	s := status.New(c, httpx.PublicMessage(err))
	if d, ok := httpx.RetryDelayOf(err); ok && d >= 0 { // negative: "do not retry"
		if ds, derr := s.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); derr == nil {
			s = ds
		}
	}
	return s.Err()
}

// ServerError is Error for server interceptors: it also sets the
// grpc-retry-pushback-ms trailer on the call in ctx when err carries a retry
// delay, so gRPC's built-in retry waits that long.
func ServerError(ctx context.Context, err error) error {
	SetPushback(ctx, err)
	return Error(err)
}

// SetPushback sets the grpc-retry-pushback-ms trailer on the call in ctx
// when err carries a retry delay (a negative one, "do not retry", as -1).
func SetPushback(ctx context.Context, err error) {
	if d, ok := httpx.RetryDelayOf(err); ok {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(RetryPushbackKey, PushbackValue(d)))
	}
}

// StreamServerError is ServerError for streams, where trailers are set on
// the stream.
func StreamServerError(ss grpc.ServerStream, err error) error {
	if d, ok := httpx.RetryDelayOf(err); ok {
		ss.SetTrailer(metadata.Pairs(RetryPushbackKey, PushbackValue(d)))
	}
	return Error(err)
}

// PushbackValue formats d for grpc-retry-pushback-ms: whole milliseconds,
// rounded up, at least 1; a negative d ("do not retry") is -1, which gRPC's
// retry design (A6) reads as "do not retry".
func PushbackValue(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(int64(ms), 10)
}
