package idempotency

import (
	"net/http"

	"github.com/paved-go/paved/internal/httpx"
)

// Transport returns a RoundTripper that adds a new key (NewKey, the
// sf-string form ParseKey reads) in the Idempotency-Key header of every
// POST and PATCH request that has none, so the server can execute it
// once however often it is sent. Put it outside a retrying transport, so
// every attempt of a request carries the same key:
//
//	client := &http.Client{Transport: idempotency.Transport(retry.Transport(nil))}
//
// The caller's request is not modified (a clone carries the key). A nil
// base is paved's default transport.
func Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{base: httpx.BaseTransport(base), header: DefaultHeader}
}

// Transport is the package's Transport sending the key in the Guard's
// header (WithHeader), for a client of a service guarded the same way. A
// nil *Guard is the package's Transport.
func (g *Guard) Transport(base http.RoundTripper) http.RoundTripper {
	if g == nil {
		return Transport(base)
	}
	return &transport{base: httpx.BaseTransport(base), header: g.cfg.header}
}

type transport struct {
	base   http.RoundTripper
	header string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.Method == http.MethodPost || req.Method == http.MethodPatch) && req.Header.Get(t.header) == "" {
		req = req.Clone(req.Context())
		req.Header.Set(t.header, NewKey())
	}
	return t.base.RoundTrip(req)
}
