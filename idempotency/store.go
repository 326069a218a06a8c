package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotHeld is returned by a Store's Complete and Release when the key is
// no longer held by the token given: its in-progress record expired and
// another request may have claimed the key since.
var ErrNotHeld = errors.New("idempotency: key no longer held")

// Record is what a Store keeps for one key: an in-progress marker while
// the first request with the key runs, then its final response.
type Record struct {
	// Token identifies the request that holds the key. Complete and
	// Release act only while the stored record carries the same token,
	// so a request whose in-progress record expired cannot overwrite the
	// request that claimed the key after it.
	Token string
	// Fingerprint identifies the request the key was first used with (a
	// hash of its method, route and body, or of the fields chosen); a
	// later request with the same key and another fingerprint is refused.
	Fingerprint string
	// Done is false while the first request runs and true once Response
	// holds its final response.
	Done bool
	// Response is the stored response; it is set only when Done.
	Response Response
}

// StatusNotStored is the Status of a Response recorded for a request
// that was executed but whose response was not kept (its body exceeded
// WithMaxResponse): a retry gets ErrNotReplayable, never a second
// execution. Stores keep it like any other status.
const StatusNotStored = -1

// Response is a stored final response.
type Response struct {
	// Status is the HTTP status code, or for gRPC the status code (OK is
	// 0), or StatusNotStored.
	Status int
	// Header holds the stored response headers (gRPC: header metadata).
	Header http.Header
	// Body is the response body (gRPC: the marshalled response message,
	// or the marshalled status of an error).
	Body []byte
}

// A Store keeps records by key. Keys reach it already scoped (principal
// or client, method and route) and hashed. Implementations must be safe
// for concurrent use, and atomic per key: of two concurrent Begins for one
// key, exactly one claims it. The package provides NewMemoryStore; the
// redisidempotency package provides a Store on Redis shared by every
// instance.
type Store interface {
	// Begin claims key for a new request: when no record exists it stores
	// rec, which is in progress, for lockTTL, and returns (nil, nil). When
	// a record exists it stores nothing and returns the existing record.
	Begin(ctx context.Context, key string, rec *Record, lockTTL time.Duration) (*Record, error)
	// Complete replaces the in-progress record that holds rec.Token with
	// rec, which is Done, kept for ttl. It returns ErrNotHeld when the
	// record is gone or held by another token.
	Complete(ctx context.Context, key string, rec *Record, ttl time.Duration) error
	// Release deletes the in-progress record of key if it holds token, so
	// that a retry runs again. It returns ErrNotHeld when the record is
	// gone or held by another token.
	Release(ctx context.Context, key, token string) error
	// Get returns the record of key, or (nil, nil) when there is none.
	Get(ctx context.Context, key string) (*Record, error)
}
