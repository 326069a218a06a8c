// Package retrygrpc retries gRPC client calls with a retry.Retrier:
// backoff, budget and deadlines as in package retry, honouring the
// server's grpc-retry-pushback-ms trailer (a negative or malformed value
// means "do not retry", as gRPC's retry design A6 asks) and
// google.rpc.RetryInfo details.
//
//	r, err := retry.New("inventory", retry.WithAttemptTimeout(time.Second))
//	...
//	ic, err := retrygrpc.New(r)
//	...
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()),
//		creds)
//
// New(nil) uses a Retrier of its own with package retry's defaults, named
// "default". New refuses a Retrier that hedges (retry.WithHedging): the
// attempts of one call share its reply message and stream, so they must
// not overlap.
//
// # What is retried
//
// By default Unavailable is retried, ResourceExhausted only when the
// server says when (pushback or RetryInfo), and DeadlineExceeded only when
// it was a per-attempt timeout (retry.WithAttemptTimeout), never the
// caller's own deadline nor one the server reports; WithCodes changes the
// list. Server-streaming calls are retried only until the first response
// message arrives, as one call from opening the stream (one request to the
// budget, at most the maximum attempts in all): when opening fails in a
// way worth retrying, the first RecvMsg reports the outcome. A stream the
// server ends while the request is sent (io.EOF from SendMsg) reports the
// server's status from RecvMsg, as grpc.ClientStream's contract says,
// never a clean end of stream. Client- and bidi-streaming calls are
// retried only when the stream cannot be opened. retry.WithAttemptTimeout
// bounds unary attempts only: a stream lives as long as its caller reads
// it, so no per-attempt deadline is put on it; bound a stream with the
// caller's context.
//
// A failed call returns the last attempt's gRPC status error, as callers
// of gRPC expect.
//
// # Composing with breakergrpc
//
// Put this interceptor outside (before) breakergrpc's client interceptor:
// the breaker's rejection ends the retries at once, and the caller gets
// its Unavailable status (see retry.WithWaitForHalfOpen to wait for the
// breaker's probe instead).
package retrygrpc
