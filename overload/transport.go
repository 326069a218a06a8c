package overload

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/paved-go/paved/internal/httpx"
)

// Transport returns a RoundTripper that holds a slot of the bulkhead for
// each request to base, from the request until its response body is
// closed (or the round trip fails), so at most the cap of calls are in
// flight to the upstream. A shed request fails with the *ShedError
// without touching the network, and its body is closed. A nil base is
// paved's default transport. On a nil *Bulkhead it is base, unlimited,
// and logs that at Error.
func (b *Bulkhead) Transport(base http.RoundTripper) http.RoundTripper {
	if b == nil {
		slog.Error("overload: Transport of a nil *Bulkhead: nothing is limited")
		return httpx.BaseTransport(base)
	}
	return &bulkheadTransport{b: b, base: httpx.BaseTransport(base)}
}

type bulkheadTransport struct {
	b    *Bulkhead
	base http.RoundTripper
}

func (t *bulkheadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	release, err := t.b.Acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		release()
		return resp, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody frees the bulkhead slot when the body is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
	done    atomic.Bool
}

func (r *releasingBody) Close() error {
	err := r.ReadCloser.Close()
	if r.done.CompareAndSwap(false, true) {
		r.release()
	}
	return err
}
