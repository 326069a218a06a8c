package retry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrBudgetExhausted is returned (wrapped in an *Error, beside the last
// attempt's error) when a retry was due but the retry budget had no room:
// the upstream is failing broadly and more retries would only add load.
var ErrBudgetExhausted = httpx.NewError(http.StatusServiceUnavailable, "retry: budget exhausted")

// Error is the error Do and Call return when the function failed: it
// wraps the last attempt's error (so errors.Is and errors.As see it, and it
// keeps its HTTP status) and says how many attempts were made. When the
// retry budget stopped the retries, it also wraps ErrBudgetExhausted.
type Error struct {
	Attempts int   // attempts made, at least 1
	Err      error // the last attempt's error
	// Reason is why the retries stopped before a success: nil when the
	// function failed with an error not worth retrying (or Permanent);
	// ErrAttemptsExhausted, ErrBudgetExhausted, ErrDeadline or ErrHint; or
	// the context's error when the caller's context ended. errors.Is sees
	// it (except ErrAttemptsExhausted, the ordinary end).
	Reason error
}

// Reasons an *Error gives for stopping.
var (
	// ErrAttemptsExhausted: the maximum number of attempts was made.
	ErrAttemptsExhausted = errors.New("retry: attempts exhausted")
	// ErrDeadline: the next attempt could not finish before the
	// context's deadline or the maximum elapsed time, so it was not made.
	ErrDeadline = errors.New("retry: no time left for another attempt")
	// ErrHint: the server said not to retry, or to wait longer than the
	// configured maximum (WithMaxServerDelay).
	ErrHint = errors.New("retry: server asked not to retry this soon")
)

// Error says how many attempts were made, why they stopped (unless
// the last error was simply not worth retrying) and the last error.
func (e *Error) Error() string {
	msg := "retry: " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		msg += "s"
	}
	switch e.Reason {
	case ErrBudgetExhausted:
		msg += ", budget exhausted"
	case ErrDeadline:
		msg += ", no time left"
	case ErrHint:
		msg += ", server asked to wait too long"
	case context.Canceled:
		msg += ", canceled"
	case context.DeadlineExceeded:
		msg += ", deadline exceeded"
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the last attempt's error and the reason, if any.
func (e *Error) Unwrap() []error {
	if e.Reason == nil || e.Reason == ErrAttemptsExhausted {
		return []error{e.Err}
	}
	return []error{e.Err, e.Reason}
}

// Permanent marks err as not worth retrying: Do returns at once. The
// returned error unwraps to err. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// After marks err as retryable no sooner than d from now, as a server's
// Retry-After would. A negative d means "do not retry". After(nil, d) is
// nil.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err: err, d: d}
}

type afterError struct {
	err error
	d   time.Duration
}

func (a *afterError) Error() string             { return a.err.Error() }
func (a *afterError) Unwrap() error             { return a.err }
func (a *afterError) RetryDelay() time.Duration { return a.d }
