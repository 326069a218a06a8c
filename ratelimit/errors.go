package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrLimited is the sentinel every rate-limit rejection unwraps to. It maps
// to HTTP 429 Too Many Requests and gRPC RESOURCE_EXHAUSTED. Rejections
// are *LimitError values, which carry the retry delay; check them with
// errors.Is(err, ErrLimited) or errors.As(err, new(*LimitError)).
var ErrLimited = httpx.NewError(http.StatusTooManyRequests, "ratelimit: limited")

// ErrNoKey is the error the middleware answers with (HTTP 400, gRPC
// INVALID_ARGUMENT) when a request's key function fails or returns an
// empty key and no anonymous key is configured (see WithAnonymousKey). Its
// message never includes the key function's own error, which may quote
// request headers.
var ErrNoKey = httpx.NewError(http.StatusBadRequest, "ratelimit: request has no rate limit key")

// LimitError reports that a caller was limited and when it may try again.
// It unwraps to ErrLimited. Its HTTP status is 429 and its RetryDelay is
// RetryAfter, so httpx and grpcx turn it into Retry-After,
// google.rpc.RetryInfo and grpc-retry-pushback-ms.
type LimitError struct {
	// Policy is the name of the policy that limited the call; "" when the
	// error comes from a limiter used directly (Wait, Transport).
	Policy string
	// RetryAfter is how long until the call would be allowed. It is
	// rate.InfDuration when the call asks for more tokens than the burst
	// and can never be allowed.
	RetryAfter time.Duration
}

// Error returns "ratelimit: limited", followed by the policy and the retry
// delay when known. The delay is rounded up to whole seconds, as
// Retry-After is, or to milliseconds when it is shorter than a second.
func (e *LimitError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "ratelimit: limited"...)
	if e.Policy != "" {
		b = append(b, " by policy "...)
		b = strconv.AppendQuote(b, e.Policy)
	}
	if d := e.RetryAfter; d > 0 && d < rate.InfDuration {
		unit := time.Second
		if d < time.Second {
			unit = time.Millisecond
		}
		if r := d % unit; r != 0 {
			d += unit - r
		}
		b = append(b, "; retry after "...)
		b = append(b, d.String()...)
	}
	return string(b)
}

// Unwrap returns ErrLimited.
func (e *LimitError) Unwrap() error { return ErrLimited }

// HTTPStatus returns 429 Too Many Requests.
func (e *LimitError) HTTPStatus() int { return http.StatusTooManyRequests }

// RetryDelay returns RetryAfter, for httpx.RetryDelayer.
func (e *LimitError) RetryDelay() time.Duration { return e.RetryAfter }
