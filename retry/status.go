package retry

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// StatusError is an upstream's failing HTTP answer (a 5xx, or 429) turned
// into an error by CheckResponse, for code that needs an error to act on,
// such as a cache loader whose stale-if-error only covers failed loads.
// Check for it with errors.As: when the answer carried a Retry-After,
// CheckResponse wraps it with After so that Do and the error writers see
// the hint. It unwraps to nothing.
type StatusError struct {
	// StatusCode is the upstream's status code.
	StatusCode int
	// RetryAfter is the upstream's Retry-After as a delay, 0 when it sent
	// none.
	RetryAfter time.Duration
}

// Error reports the upstream's status code.
func (e *StatusError) Error() string {
	return "retry: upstream answered " + strconv.Itoa(e.StatusCode)
}

// HTTPStatus is the status a server relaying this failure should answer
// with, from its own point of view: 503 Service Unavailable when the
// upstream was unavailable or limited the calls (503, 429: it is not the
// caller who is limited), 504 Gateway Timeout when the upstream timed out
// (504), and 502 Bad Gateway for any other failure of the upstream.
func (e *StatusError) HTTPStatus() int {
	switch e.StatusCode {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return http.StatusServiceUnavailable
	case http.StatusGatewayTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// CheckResponse turns a failing answer into an error, for callers of a
// Transport, which returns the upstream's last answer as is, even a 503:
//
//	resp, err := retry.CheckResponse(client.Do(req))
//
// It passes err through when it is not nil, and resp when its status is
// neither 5xx nor 429. Otherwise it drains (up to 64 KiB) and closes the
// body, so the connection is reused, and returns a nil response and a
// *StatusError, wrapped with After when a Retry-After came with it.
func CheckResponse(resp *http.Response, err error) (*http.Response, error) {
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return resp, nil
	}
	e := statusError(resp, time.Now())
	drain(resp)
	return nil, e
}

// statusError is resp's status as an error, with the Retry-After hint
// when there is one.
func statusError(resp *http.Response, now time.Time) error {
	se := &StatusError{StatusCode: resp.StatusCode}
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		se.RetryAfter = d
		return After(se, d)
	}
	return se
}

// drain reads (up to 64 KiB of) resp's body and closes it, so its
// connection goes back to the pool.
func drain(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		_ = resp.Body.Close()
	}
}
