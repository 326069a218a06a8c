package paved

import (
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// StatusClientClosedRequest (499, "Client Closed Request", as nginx and
// grpc-gateway use it) is the status HTTPStatus reports for a request the
// client canceled. The client is gone and never sees it; access logs and
// metrics do, so a canceled call is not counted as a success or as a
// server failure.
const StatusClientClosedRequest = 499

// Error is an error with a fixed HTTP status, for a service's own
// sentinel errors: compare them with errors.Is, wrap them with %w, and
// WriteError and pavedgrpc answer them with their status and message.
//
// Any error type can join the vocabulary without this type, by declaring
// its status with a method, the same contract paved's own errors follow:
//
//	HTTPStatus() int            // the HTTP status the error maps to
//	RetryDelay() time.Duration  // optional: when the client may try again
//
// The message of such an error is shown to clients (as the problem's
// detail and the gRPC status message), so it must not carry secrets or
// internals; the text that other code wraps around it never is.
//
// Error is the type of paved's own sentinel errors (breaker.ErrOpen,
// ratelimit.ErrLimited, ...): its methods are Error() string, the
// message, and HTTPStatus() int, the status.
type Error = httpx.Error

// NewError returns an error whose message is msg and whose HTTP status is
// status. msg should start with the name of the package or service that
// defines it ("orders: already shipped"). A status that is not a 4xx or
// 5xx code is answered as 500 by WriteError.
//
//	var ErrShipped = paved.NewError(http.StatusConflict, "orders: already shipped")
func NewError(status int, msg string) *Error { return httpx.NewError(status, msg) }

// HTTPStatus reports the HTTP status a client should see for err, the
// same mapping WriteError uses: nil is 200; the first error in err's chain
// (errors.As order) that declares HTTPStatus() int gets its status, so a
// typed error refines the sentinel it wraps; otherwise a deadline
// (context.DeadlineExceeded) is 504, a canceled request
// (context.Canceled) StatusClientClosedRequest, an oversized body
// (*http.MaxBytesError) 413, and any other error 500.
func HTTPStatus(err error) int { return httpx.StatusOf(err) }

// RetryDelay reports how long the client should wait before trying again,
// as the first error in err's chain that declares RetryDelay()
// time.Duration tells it (an open breaker, a rate limit), and whether one
// does. WriteError sends it as Retry-After.
func RetryDelay(err error) (time.Duration, bool) { return httpx.RetryDelayOf(err) }
