package authz

import "context"

// Headers is where an Authenticator finds credentials: http.Header for
// HTTP requests, and gRPC metadata through authzgrpc. Get returns the first
// value of the named header, "" when there is none; names are
// case-insensitive.
type Headers interface {
	Get(name string) string
}

// Authenticator finds and checks one kind of credential.
//
// Authenticate returns ErrNoCredentials when the request carries none of
// its credentials, so that the next authenticator in First may try; an
// error that unwraps to ErrUnauthenticated when a credential is present
// but not valid; and the caller's Principal otherwise. The error's message
// says why for logs and never contains the credential.
//
// Challenge returns the WWW-Authenticate challenge (RFC 9110 section
// 11.6.1) for the authenticator's scheme, given the error Authenticate
// returned (ErrNoCredentials when there was no credential), such as
// `Bearer realm="api", error="invalid_token"` (RFC 6750 section 3).
//
// An Authenticator is safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, h Headers) (*Principal, error)
	Challenge(err error) string
}
