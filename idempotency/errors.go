package idempotency

import (
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// The errors Middleware answers with (through WithErrorHandler) and the
// idempotencygrpc interceptor maps to gRPC codes. Each maps to its HTTP
// status through paved.WriteError; check them with errors.Is.
var (
	// ErrKeyMissing: a request without a key on a route that requires one
	// (WithRequired). 400 Bad Request, as the draft's section 2.7 asks.
	ErrKeyMissing = httpx.NewError(http.StatusBadRequest, "idempotency: key required")
	// ErrKeyInvalid: the key header is not a structured-field string (or
	// a bare key, see ParseKey), is empty, repeats, or is longer than
	// MaxKeyLength. 400 Bad Request.
	ErrKeyInvalid = httpx.NewError(http.StatusBadRequest, "idempotency: malformed key")
	// ErrInProgress: the first request with the key has not finished
	// (and WithWait's wait, if any, ran out). 409 Conflict (draft section
	// 2.7) with Retry-After: 1; the client may retry later.
	ErrInProgress = httpx.NewError(http.StatusConflict, "idempotency: a request with this key is in progress")
	// ErrMismatch: the key was first used with a request of another
	// fingerprint. 422 Unprocessable Content (draft section 2.7).
	ErrMismatch = httpx.NewError(http.StatusUnprocessableEntity, "idempotency: key already used for another request")
	// ErrNotReplayable: the request with the key was executed but its
	// response was not stored (its body exceeded WithMaxResponse). 409
	// Conflict: it will not be executed again while the record lives.
	ErrNotReplayable = httpx.NewError(http.StatusConflict, "idempotency: request already executed; its response was not stored")
	// ErrUnavailable: the store failed, so whether the key was used is
	// unknown. 503 Service Unavailable (unless WithFailOpen).
	ErrUnavailable = httpx.NewError(http.StatusServiceUnavailable, "idempotency: store unavailable")
	// ErrFingerprint: the request could not be fingerprinted (a body that
	// is not JSON for WithFingerprintFields, or an error from
	// WithFingerprint's function). 400 Bad Request.
	ErrFingerprint = httpx.NewError(http.StatusBadRequest, "idempotency: cannot fingerprint the request")
)

// inProgress is ErrInProgress as a refusal carries it: with a hint to
// retry in a second, when the first request may well have finished.
type inProgress struct{}

func (inProgress) Error() string             { return ErrInProgress.Error() }
func (inProgress) Unwrap() error             { return ErrInProgress }
func (inProgress) HTTPStatus() int           { return http.StatusConflict }
func (inProgress) RetryDelay() time.Duration { return time.Second }

var errInProgress error = inProgress{}

// titles are the problem titles of the draft's examples (section 2.7),
// used with WithDocsURL's type.
func title(err error) string {
	switch err {
	case ErrKeyMissing:
		return "Idempotency-Key is missing"
	case ErrInProgress:
		return "A request is outstanding for this Idempotency-Key"
	case ErrMismatch:
		return "Idempotency-Key is already used"
	}
	return ""
}
