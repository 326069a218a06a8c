package ratelimit

import (
	"net/http"

	"github.com/paved-go/paved/internal/httpx"
)

// Transport returns a RoundTripper that paces outgoing requests through l:
// each request waits for a token before base sends it. A request whose
// wait would overrun its context's deadline, or l's WithMaxWait bound,
// fails at once with a *LimitError instead, so WithMaxWait(0) makes the
// transport fail fast rather than wait. A nil base means paved's default
// base transport (http.DefaultTransport's settings with a connection pool
// sized for service-to-service calls). On a nil *Limiter it paces
// nothing and returns that base itself.
func (l *Limiter) Transport(base http.RoundTripper) http.RoundTripper {
	base = httpx.BaseTransport(base)
	if l == nil {
		return base
	}
	return &transport{base: base, l: l}
}

type transport struct {
	base http.RoundTripper
	l    *Limiter
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.l.Wait(r.Context()); err != nil {
		if r.Body != nil {
			r.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	return t.base.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the base transport,
// so http.Client.CloseIdleConnections reaches through the wrapper.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
