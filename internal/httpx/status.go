package httpx

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// StatusCoder is implemented by the project's errors to declare the HTTP
// status they map to, so this package never imports the feature packages.
// The first error in the chain (errors.As order) that declares a status
// wins, so a typed error can refine the status of the sentinel it wraps.
type StatusCoder interface {
	error
	HTTPStatus() int
}

// RetryDelayer is implemented by errors that tell the client when to try
// again (an open breaker, a rate limit). WriteError turns it into a
// Retry-After header; grpcx into grpc-retry-pushback-ms and RetryInfo.
type RetryDelayer interface {
	error
	RetryDelay() time.Duration
}

// StatusClientClosedRequest is the non-standard status used for requests
// the client canceled (nginx and grpc-gateway use the same code). The
// client never sees it; it keeps logs and metrics honest.
const StatusClientClosedRequest = 499

// Error is an error with a fixed HTTP status. The project's sentinel errors
// are *Error values, so errors.Is works on them by identity.
type Error struct {
	msg    string
	status int
}

// NewError returns an error whose message is msg and whose HTTP status is
// status. msg should carry the package prefix ("breaker: open").
func NewError(status int, msg string) *Error {
	return &Error{msg: msg, status: status}
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// HTTPStatus reports the status the error maps to.
func (e *Error) HTTPStatus() int { return e.status }

// StatusOf maps err to the HTTP status a client should see: nil is 200, an
// error declaring its own status (StatusCoder) gets it when it is a 4xx or
// 5xx code and 500 otherwise (an error is never answered as a success), a
// deadline is 504, a canceled request 499, an oversized body
// (*http.MaxBytesError) 413, and anything else 500.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if sc, ok := errors.AsType[StatusCoder](err); ok {
		if s := sc.HTTPStatus(); s >= 400 && s <= 599 {
			return s
		}
		return http.StatusInternalServerError
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	}
	return http.StatusInternalServerError
}

// RetryDelayOf reports the retry delay an error in err's chain carries, and
// whether there is one.
func RetryDelayOf(err error) (time.Duration, bool) {
	if rd, ok := errors.AsType[RetryDelayer](err); ok {
		return rd.RetryDelay(), true
	}
	return 0, false
}

// PublicMessage returns the message a client may see for err: that of the
// first project error (StatusCoder) in err's chain, else of an
// *http.MaxBytesError, else context.DeadlineExceeded's or
// context.Canceled's; "" when err is not Public. Text wrapped around that
// error (fmt.Errorf prefixes, errors.Join siblings, an *url.Error's URL)
// is left out: it may name internal addresses, queries or credentials.
func PublicMessage(err error) string {
	if sc, ok := errors.AsType[StatusCoder](err); ok {
		return sc.Error()
	}
	if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return mb.Error()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded.Error()
	case errors.Is(err, context.Canceled):
		return context.Canceled.Error()
	}
	return ""
}

// Public reports whether err carries a message that may be shown to a
// client (PublicMessage): the project's own errors (StatusCoder), context
// errors and body-size errors do; any other error may carry internals and
// does not.
func Public(err error) bool {
	if _, ok := errors.AsType[StatusCoder](err); ok {
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// AppendQuoted appends s quoted with '"' and '\' escaped by a backslash:
// an RFC 9110 quoted-string, which is also an RFC 9651 structured-field
// String. Callers pass only printable ASCII (and, for quoted-strings,
// spaces), which needs no other escaping.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
