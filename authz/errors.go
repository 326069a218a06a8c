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
