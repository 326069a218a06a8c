package overload

import (
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrShed is the sentinel every overload rejection unwraps to. It maps to
// HTTP 503 Service Unavailable and gRPC UNAVAILABLE, with the retry delay
// as Retry-After and google.rpc.RetryInfo. Rejections are *ShedError
// values; check them with errors.Is(err, ErrShed) or
// errors.As(err, new(*ShedError)).
var ErrShed = httpx.NewError(http.StatusServiceUnavailable, "overload: shed")

// ShedError reports that a call was shed by a bulkhead or a limiter
// because it was at capacity, and when the caller may try again. It
// unwraps to ErrShed. The values a bulkhead or limiter returns are shared
// between calls and must not be modified.
type ShedError struct {
	// Name is the bulkhead's or limiter's name.
	Name string
	// Class is the class of the shed call (Default for a bulkhead).
	Class Class
	// RetryAfter is the delay the caller is advised to wait (WithRetryAfter).
	RetryAfter time.Duration
}

// Error returns "overload: shed", the name and the class.
func (e *ShedError) Error() string {
	return "overload: shed by " + e.Name + " (" + e.Class.String() + ")"
}

// Unwrap returns ErrShed.
func (e *ShedError) Unwrap() error { return ErrShed }

// HTTPStatus returns 503 Service Unavailable.
func (e *ShedError) HTTPStatus() int { return http.StatusServiceUnavailable }

// RetryDelay returns RetryAfter, for Retry-After and RetryInfo.
func (e *ShedError) RetryDelay() time.Duration { return e.RetryAfter }
