package ratelimit

import (
	"context"
	"net/http"
	"strings"
)

// KeyFunc returns the key of the bucket a request draws from: a client
// address, an API key, a principal, a tenant. A KeyFunc that fails or
// returns "" gets the middleware's missing-key treatment: a 400 with
// ErrNoKey, or the shared bucket of WithAnonymousKey. Keys are held in
// memory as bucket names; they never appear in logs, metrics or headers.
// A KeyFunc runs on every request, so it should be cheap and must be safe
// for concurrent use.
type KeyFunc func(r *http.Request) (string, error)

// APIKeyHeader is the header APIKey reads first.
const APIKeyHeader = "X-Api-Key"

// Header returns a KeyFunc that keys requests by the first value of the
// named header; a request without it has no key.
func Header(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) (string, error) {
		if v := r.Header[name]; len(v) > 0 {
			return v[0], nil
		}
		return "", nil
	}
}

// APIKey keys requests by the API key they present: the X-API-Key header,
// else the token of an "Authorization: Bearer" header; a request with
// neither has no key.
//
// The key is taken as given. Unless authentication runs before the
// limiter, a client can invent keys to get fresh buckets, so pair a
// per-key policy with a per-address one (stack two middlewares).
func APIKey(r *http.Request) (string, error) {
	if v := r.Header[APIKeyHeader]; len(v) > 0 && v[0] != "" {
		return v[0], nil
	}
	if v := r.Header["Authorization"]; len(v) > 0 {
		return BearerToken(v[0]), nil
	}
	return "", nil
}

// BearerToken returns the token of an Authorization value of the Bearer
// scheme (RFC 6750; the scheme is matched without regard to case), and ""
// for any other value. APIKey uses it; so can a key function that finds
// the credentials elsewhere.
func BearerToken(authorization string) string {
	const scheme = "bearer "
	if len(authorization) > len(scheme) && strings.EqualFold(authorization[:len(scheme)], scheme) {
		return strings.TrimSpace(authorization[len(scheme):])
	}
	return ""
}

// Route keys requests by the http.ServeMux pattern that matched them
// (r.Pattern, such as "POST /instances"), for a policy that gives each
// route its own bucket. Compose it with Join to key by route and caller. A
// request that matched no pattern has no key.
func Route(r *http.Request) (string, error) { return r.Pattern, nil }

// Principal keys requests by the authenticated principal that id finds in
// the request's context (for instance an authz middleware's principal id);
// a request without one has no key. A nil id finds no principal, rather
// than panicking at the first request.
func Principal(id func(ctx context.Context) (string, bool)) KeyFunc {
	if id == nil {
		return noKey
	}
	return func(r *http.Request) (string, error) {
		p, ok := id(r.Context())
		if !ok {
			return "", nil
		}
		return p, nil
	}
}

// keySep separates the parts of a joined key. Header values and mux
// patterns cannot contain NUL, so keys from different parts cannot run
// into each other.
const keySep = "\x00"

// Join returns a key function whose key combines the keys of fns, such as
// Join(Route, APIKey) for one bucket per route and API key. If any part
// fails or is empty, or is nil, the request has no key. It joins key
// functions of any transport: KeyFunc here, ratelimitgrpc.KeyFunc for gRPC
// calls. Joining allocates the key, one small allocation per request.
func Join[F ~func(R) (string, error), R any](fns ...F) F {
	fns = append([]F(nil), fns...)
	for _, fn := range fns {
		if fn == nil { // a part that finds nothing, not a panic at the first request
			return func(R) (string, error) { return "", nil }
		}
	}
	return func(r R) (string, error) {
		var buf [4]string
		parts := buf[:0]
		for _, fn := range fns {
			k, err := fn(r)
			if err != nil || k == "" {
				return "", err
			}
			parts = append(parts, k)
		}
		return strings.Join(parts, keySep), nil
	}
}

func noKey(*http.Request) (string, error) { return "", nil }
