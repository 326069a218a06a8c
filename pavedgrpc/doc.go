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
