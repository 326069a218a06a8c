package breaker

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// Errors a breaker returns for calls it rejects, always wrapped in an
// *OpenError. Both answer HTTP 503 and gRPC UNAVAILABLE.
var (
	// ErrOpen means the breaker is open: the protected dependency failed
	// too often and is given time to recover.
	ErrOpen = httpx.NewError(http.StatusServiceUnavailable, "breaker: open")
	// ErrTooManyRequests means the breaker is half-open and all its probe
	// calls are already in flight.
	ErrTooManyRequests = httpx.NewError(http.StatusServiceUnavailable, "breaker: too many requests")
)

// halfOpenRetryAfter is the wait suggested to callers a full half-open
// breaker rejects: its probes decide within about one call, so there is no
// deadline to report, only "soon".
const halfOpenRetryAfter = time.Second

// OpenError is the error for a call a breaker rejected without running it.
// It unwraps to ErrOpen, or to ErrTooManyRequests when State is
// StateHalfOpen, so errors.Is works with either sentinel and
// errors.As(err, new(*OpenError)) catches every rejection. It declares HTTP
// status 503 and its RetryAfter as the retry delay, which
// httpx.WriteError turns into a Retry-After header and grpcx into
// grpc-retry-pushback-ms.
type OpenError struct {
	// Name is the name of the breaker (its key in a Registry). It is not
	// part of Error(), since a key such as an upstream host is not for
	// clients to see.
	Name string
	// State is StateOpen, or StateHalfOpen when the probes are all in flight.
	State State
	// RetryAfter is the time until the breaker half-opens; for a full
	// half-open breaker it is one second.
	RetryAfter time.Duration
}

// Error returns the message of ErrOpen or ErrTooManyRequests; it never
// includes the breaker's name, which may be internal.
func (e *OpenError) Error() string { return e.Unwrap().Error() }

// Unwrap returns ErrOpen or ErrTooManyRequests.
func (e *OpenError) Unwrap() error {
	if e.State == StateHalfOpen {
		return ErrTooManyRequests
	}
	return ErrOpen
}

// HTTPStatus reports 503 Service Unavailable.
func (e *OpenError) HTTPStatus() int { return http.StatusServiceUnavailable }

// RetryDelay reports RetryAfter, for httpx.RetryDelayer.
func (e *OpenError) RetryDelay() time.Duration { return e.RetryAfter }

// StatusError is how the HTTP adapters report a response whose status
// counts as a failure (5xx; and 429 for Transport) to the breaker's
// Classifier and to a transport fallback. Callers of the middleware and
// transport never get it: they get the response itself.
type StatusError struct {
	StatusCode int
}

// Error reports the status code.
func (e *StatusError) Error() string {
	return "breaker: response status " + strconv.Itoa(e.StatusCode)
}

// Outcome is how a finished call counts for the breaker.
type Outcome int

const (
	// Success counts towards the calls in the window, not the failures.
	Success Outcome = iota
	// Failure counts as a failed call.
	Failure
	// Ignored does not count either way, as if the call had not been made.
	Ignored
)

// A Classifier tells how a call that returned err counts; ctx is the
// call's context. It runs once per finished call, outside any lock. A call
// that succeeds but takes longer than the slow-call threshold is then
// counted as a failure (outcome "slow").
type Classifier func(ctx context.Context, err error) Outcome

// DefaultClassifier counts a nil error as a success, an error of a call
// whose own context was canceled (the caller gave up) as ignored, and every
// other error, deadlines included, as a failure. Wrap it to mark errors of
// your own as ignored or as successes, for example a "not found" that
// proves the dependency healthy:
//
//	func(ctx context.Context, err error) breaker.Outcome {
//		if errors.Is(err, ErrNotFound) {
//			return breaker.Success
//		}
//		return breaker.DefaultClassifier(ctx, err)
//	}
func DefaultClassifier(ctx context.Context, err error) Outcome {
	if err == nil {
		return Success
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return Ignored
	}
	return Failure
}

// result is the outcome of one call through a breaker, as recorded in
// paved.breaker.calls.
type result uint8

const (
	resSuccess result = iota
	resFailure
	resSlow
	resIgnored
	resRejected
	resPanicked // fn is running or panicked; recorded as a failure
)

var resultNames = [...]string{"success", "failure", "slow", "ignored", "rejected", "failure"}

func (r result) String() string { return resultNames[r] }

// errAborted is what Middleware's call returns when the handler panicked
// with http.ErrAbortHandler: the client is gone, so the call is ignored
// whatever the Classifier says, and Middleware re-raises the panic.
var errAborted = errors.New("breaker: handler aborted")

// Markers handed to gobreaker for the outcome we computed, so its
// IsSuccessful/IsExcluded see our classification, not the caller's error.
var (
	errCountedFailure = errors.New("breaker: failure")
	errCountedIgnored = errors.New("breaker: ignored")
)

func (r result) marker() error {
	switch r {
	case resSuccess:
		return nil
	case resIgnored:
		return errCountedIgnored
	}
	return errCountedFailure
}
