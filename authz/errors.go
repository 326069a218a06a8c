package authz

import (
	"net/http"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrNoCredentials is what an Authenticator returns when a request carries
// none of its credentials. The middleware answers it with 401 only where
// authentication is required.
var ErrNoCredentials = httpx.NewError(http.StatusUnauthorized, "authz: no credentials")

// ErrUnauthenticated is the sentinel every authentication failure unwraps
// to: a missing credential where one is required, or one that is not
// valid. It maps to HTTP 401 Unauthorized, with WWW-Authenticate, and gRPC
// UNAUTHENTICATED.
var ErrUnauthenticated = httpx.NewError(http.StatusUnauthorized, "authz: unauthenticated")

// ErrDenied is the sentinel every authorization denial unwraps to. It maps
// to HTTP 403 Forbidden and gRPC PERMISSION_DENIED. Denials are *DenyError
// values, which say which rule decided.
var ErrDenied = httpx.NewError(http.StatusForbidden, "authz: denied")

// ErrNotFound is what a resolver returns (or wraps) when the resource it
// was asked for does not exist. The rule that asked fails and the request
// is denied (403), whatever WithOutageStatus says: a missing resource is
// an answer, not an outage.
var ErrNotFound = httpx.NewError(http.StatusNotFound, "authz: resource not found")

// ErrUnavailable is the error a request gets, with HTTP 503 and gRPC
// UNAVAILABLE, when a resolver failed (an error other than ErrNotFound,
// or its circuit breaker is open) and WithOutageStatus asks for 503.
var ErrUnavailable = httpx.NewError(http.StatusServiceUnavailable, "authz: resource lookup unavailable")

// ErrBodyTooLarge is the error a request gets (HTTP 413, gRPC
// INVALID_ARGUMENT) when a rule reads request.body and the body is larger
// than WithMaxBodyBytes allows.
var ErrBodyTooLarge = httpx.NewError(http.StatusRequestEntityTooLarge, "authz: request body too large")

// ErrBadBody is the error a request gets (HTTP 400, gRPC
// INVALID_ARGUMENT) when a rule reads request.body and the body is not
// JSON, or nests deeper than WithMaxBodyDepth allows.
var ErrBadBody = httpx.NewError(http.StatusBadRequest, "authz: request body is not valid JSON")

// DenyError is the error of a denied request. It unwraps to ErrDenied and
// declares HTTP 403. Its message names the deciding rule, never a policy's
// text.
type DenyError struct {
	// Operation is the route pattern or gRPC method of the request.
	Operation string
	// Rule names the rule that decided: the forbid rule that matched or
	// failed; "" when no allow rule matched.
	Rule string
	// Reason says why, in the words of Decision.Reason.
	Reason string
}

// Error returns "authz: denied: " and the reason.
func (e *DenyError) Error() string {
	if e.Reason == "" {
		return ErrDenied.Error()
	}
	return "authz: denied: " + e.Reason
}

// Unwrap returns ErrDenied.
func (e *DenyError) Unwrap() error { return ErrDenied }

// HTTPStatus returns 403 Forbidden.
func (e *DenyError) HTTPStatus() int { return http.StatusForbidden }
