package faults

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/paved-go/paved/internal/httpx"
)

// Transport returns a RoundTripper that injects the faults of the rules
// in force into the requests it sends to base:
//
//   - latency waits, then sends (a request whose context ends first fails
//     with the context's error);
//   - an error returns a synthetic problem+json response with the rule's
//     status, without sending;
//   - a reset fails with an *InjectedError that unwraps to
//     syscall.ECONNRESET, without sending;
//   - an abort sends the request and returns the upstream's response,
//     whose body fails with an *InjectedError (unwrapping to
//     io.ErrUnexpectedEOF) after half of it (half of the first read when
//     the length is unknown).
//
// Every response a fault touched carries the Paved-Fault header. Rules
// match by method, path, host (req.URL.Host), header and principal. A nil
// base is paved's default base transport. With no rules it costs an
// atomic load. On a nil *Injector it is base.
func (inj *Injector) Transport(base http.RoundTripper) http.RoundTripper {
	base = httpx.BaseTransport(base)
	if inj == nil {
		return base
	}
	return &transport{inj: inj, base: base}
}

type transport struct {
	inj  *Injector
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rs := t.inj.rules.Load()
	if rs == nil {
		return t.base.RoundTrip(req)
	}
	f := t.inj.pick(req.Context(), rs, &Call{Method: req.Method, Path: req.URL.Path, Host: req.URL.Host, Header: req.Header})
	if f.c == nil {
		return t.base.RoundTrip(req)
	}
	if err := f.Wait(req.Context()); err != nil {
		closeBody(req)
		return nil, err
	}
	switch f.c.kind {
	case KindError:
		closeBody(req)
		return synthetic(req, f), nil
	case KindReset:
		closeBody(req)
		return nil, f.Err()
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.Header == nil {
		resp.Header = make(http.Header)
	}
	resp.Header.Set(HeaderFault, f.c.Name)
	if f.c.kind == KindAbort && resp.Body != nil {
		keep := int64(-1)
		if resp.ContentLength > 0 {
			keep = resp.ContentLength / 2
		}
		resp.Body = &abortBody{rc: resp.Body, keep: keep, rule: f.c.Name}
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// synthetic is the response of an injected error: problem+json with the
// rule's status, as a paved server answers an error.
func synthetic(req *http.Request, f Fault) *http.Response {
	p := httpx.ProblemOf(f.Err())
	p.CorrelationID = httpx.CorrelationID(req.Context())
	body := p.AppendJSON(nil)
	h := http.Header{
		"Content-Type":   {httpx.ContentTypeProblem},
		"Content-Length": {strconv.Itoa(len(body))},
		HeaderFault:      {f.c.Name},
	}
	return &http.Response{
		Status:        strconv.Itoa(p.Status) + " " + httpx.StatusText(p.Status),
		StatusCode:    p.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// abortBody reads keep bytes of the body (half of the first read when
// keep is -1) and then fails.
type abortBody struct {
	rc   io.ReadCloser
	keep int64
	rule string
}

func (b *abortBody) Read(p []byte) (int, error) {
	if b.keep == 0 {
		return 0, abortError(b.rule)
	}
	if b.keep > 0 && int64(len(p)) > b.keep {
		p = p[:b.keep]
	}
	n, err := b.rc.Read(p)
	if b.keep < 0 { // the length is unknown: keep half of this read
		b.keep = 0
		if n /= 2; n == 0 {
			return 0, abortError(b.rule)
		}
		return n, nil
	}
	b.keep -= int64(n)
	if err == io.EOF { // shorter than announced
		return n, abortError(b.rule)
	}
	return n, err
}

func (b *abortBody) Close() error { return b.rc.Close() }
