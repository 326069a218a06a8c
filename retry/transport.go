package retry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/paved-go/paved/internal/httpx"
)

var defaultRetrier = func() *Retrier {
	r, err := New("default")
	if err != nil {
		panic(err) // the defaults are valid; a test proves it
	}
	return r
}()

// Transport is the zero-configuration Retrier's Transport (see
// Retrier.Transport): the package defaults, with one Retrier named
// "default" and its 20% + 10/s retry budget shared by every Transport this
// function returns. A nil base means paved's default base transport.
func Transport(base http.RoundTripper) http.RoundTripper { return defaultRetrier.Transport(base) }

// Transport returns an http.RoundTripper that retries requests through
// base (nil means paved's default base transport):
//
//   - only idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) or
//     requests carrying a non-empty Idempotency-Key header (see
//     WithIdempotencyKey);
//   - only when the body can be sent again: no body, or GetBody set (as
//     http.NewRequest does for in-memory bodies);
//   - on transport errors, 502, 503 and 504, and 429 when it carries a
//     Retry-After; never on other statuses;
//   - waiting what Retry-After asks (seconds or HTTP-date) when it is
//     within WithMaxServerDelay, and giving up at once when it is longer.
//
// A response that is not retried is returned as is, even a 503: the
// caller sees the upstream's last answer (CheckResponse turns it into an
// error). Discarded responses are drained and closed so their connections
// are reused. A circuit breaker's rejection in base (breaker.Transport)
// comes back as the error, wrapped in an *Error.
//
// A nil *Retrier is the zero-configuration one the package function
// Transport uses.
func (r *Retrier) Transport(base http.RoundTripper) http.RoundTripper {
	if r == nil {
		r = defaultRetrier
	}
	base = httpx.BaseTransport(base)
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Retrier
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cfg := &t.r.cfg
	if cfg.idempotencyKey && (req.Method == http.MethodPost || req.Method == http.MethodPatch) &&
		req.Header.Get("Idempotency-Key") == "" {
		req = req.Clone(req.Context()) // RoundTrippers must not modify the caller's request
		// An RFC 8941 sf-string, as the Idempotency-Key draft defines the
		// field (section 2.1).
		req.Header.Set("Idempotency-Key", `"`+uuid.NewString()+`"`)
	}
	a := httpAttempt{t: t, req: req}
	var resp *http.Response
	var err error
	if replayable(req) {
		resp, err = run(req.Context(), t.r, a)
	} else {
		// One attempt, which is still an attempt: its timeout and header.
		cfg.budget.request()
		resp, err = once(req.Context(), t.r, a, 1)
	}
	if err != nil && resp != nil {
		return resp, nil // the last answer, not worth or not allowed another try
	}
	return resp, err
}

// replayable reports whether req may be sent more than once.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		if req.Header.Get("Idempotency-Key") == "" { // an empty key makes nothing idempotent
			return false
		}
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func withHeader(req *http.Request, ctx context.Context, name, value string) *http.Request {
	r2 := req.WithContext(ctx)
	r2.Header = req.Header.Clone()
	if r2.Header == nil {
		r2.Header = make(http.Header)
	}
	r2.Header.Set(name, value)
	return r2
}

// httpAttempt is one round trip of a retried request. It is a value, so
// a request that needs no retry allocates nothing for it.
type httpAttempt struct {
	t   *transport
	req *http.Request
}

func (a httpAttempt) call(ctx context.Context, n int) (*http.Response, error) {
	var r2 *http.Request
	if h := a.t.r.cfg.attemptHeader; h != "" {
		r2 = withHeader(a.req, ctx, h, strconv.Itoa(n))
	} else if ctx != a.req.Context() || n > 1 {
		r2 = a.req.WithContext(ctx)
	} else {
		r2 = a.req
	}
	if n > 1 && a.req.GetBody != nil {
		body, err := a.req.GetBody()
		if err != nil {
			return nil, Permanent(err)
		}
		r2.Body = body
	}
	resp, err := a.t.base.RoundTrip(r2)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		err := statusError(resp, time.Now())
		if _, hinted := err.(*afterError); !hinted && resp.StatusCode == http.StatusTooManyRequests {
			return resp, nil // no hint: when to retry is anybody's guess, so don't
		}
		return resp, err
	}
	return resp, nil
}

// release drains (up to 64 KiB) and closes a discarded response, so its
// connection goes back to the pool.
func (httpAttempt) release(resp *http.Response, _ error) { drain(resp) }

func (httpAttempt) keep(resp *http.Response, cancel context.CancelFunc) *http.Response {
	return keepUntilClosed(resp, cancel)
}

// keepUntilClosed calls cancel when resp's body is closed, or at once when
// there is no body.
func keepUntilClosed(resp *http.Response, cancel context.CancelFunc) *http.Response {
	if resp == nil || resp.Body == nil {
		cancel()
		return resp
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp
}

func (httpAttempt) failed(resp *http.Response) *http.Response { return resp }

// cancelOnClose ends an attempt's context when its body is closed: the
// body is read after RoundTrip returns, so the context must live on.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// ParseRetryAfter reads a Retry-After header value, as delay-seconds or an
// HTTP-date, relative to now. A date in the past is a zero delay. It
// reports false for an empty or malformed value; huge values, in either
// form, saturate at 2^33 seconds (beyond any sensible cap) rather than
// overflow.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		var secs int64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if secs < 1<<40 { // beyond any sensible cap; stop growing
				secs = secs*10 + int64(c-'0')
			}
		}
		return time.Duration(min(secs, int64(1<<33))) * time.Second, true
	}
	// The same strict HTTP-date grammar (RFC 9110 section 5.6.7) the
	// response cache uses for Expires and Date.
	t, ok := httpx.ParseHTTPDateAt(v, now)
	if !ok {
		return 0, false
	}
	return min(max(t.Sub(now), 0), 1<<33*time.Second), true
}

// CloseIdleConnections closes the idle connections of the base transport,
// so http.Client.CloseIdleConnections reaches it.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
