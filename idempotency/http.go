package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/httpx"
)

// Middleware returns next guarded: a request carrying a key runs next
// once; its retries get the stored response, marked with the replay
// header. A request without a key passes through (or, WithRequired, gets
// 400). Mount it on the routes it protects, inside the ServeMux, so the
// key is scoped by the route pattern (r.Pattern) rather than the path.
// A nil *Guard uses the package defaults. The body next reads is a copy
// the Middleware read for the fingerprint; its buffer is reused once the
// Middleware returns, when the request's Body (if still that copy) is
// http.NoBody.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	if g == nil {
		g = defaultGuard()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.cfg.filter != nil && !g.cfg.filter(r) {
			next.ServeHTTP(w, r)
			return
		}
		key, err := g.key(r)
		if err != nil {
			g.onError(w, r, err)
			return
		}
		if key == "" {
			if g.cfg.required {
				g.onError(w, r, ErrKeyMissing)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		st := statePool.Get().(*reqState)
		body, err := g.readBody(r, st)
		if err != nil {
			st.put()
			g.onError(w, r, err)
			return
		}
		var fpBuf [2 * sha256.Size]byte
		fp, err := g.fingerprint(r, body, &fpBuf)
		if g.cfg.fingerprint != nil {
			st.body = nil // f may keep the body it was given
		}
		if err != nil {
			st.put()
			g.onError(w, r, err)
			return
		}
		route := r.Pattern
		if route == "" {
			route = r.URL.Path
		}
		scope, scope2 := g.scope(r)
		var skey [storeKeyLen]byte
		g.storeKey(&skey, scope, scope2, r.Method, route, key)
		st.cw = capture{w: w, g: g, body: st.cw.body[:0]}
		resp, replayed, err := g.do(r.Context(), skey[:], fp, func(ctx context.Context) *Response {
			next.ServeHTTP(&st.cw, r)
			return st.cw.response(r)
		}, true)
		switch {
		case err != nil:
			g.onError(w, r, err)
		case replayed:
			g.replay(w, resp)
		}
		if r.Body == &st.rb {
			r.Body = http.NoBody // the reader goes back to the pool
		}
		st.put()
	})
}

// reqState is what the Middleware needs per request, reused: the body
// read for the fingerprint and the response capture.
type reqState struct {
	rb   bodyReader
	body []byte
	cw   capture
}

var statePool = sync.Pool{New: func() any { return new(reqState) }}

// maxPooled bounds the buffers a reqState keeps for the next request.
const maxPooled = 64 << 10

// put returns st to the pool once the request is done with it. The
// handler may not use the request body or the writer after it returns
// (net/http's rule); a body left unread reads as empty afterwards.
func (st *reqState) put() {
	st.rb.Reset(nil)
	if cap(st.body) > maxPooled {
		st.body = nil
	}
	body := st.cw.body
	if cap(body) > maxPooled {
		body = nil
	}
	st.cw = capture{body: body[:0]}
	statePool.Put(st)
}

// Middleware guards next with a Guard of the package defaults, unnamed.
func Middleware(next http.Handler) http.Handler { return (*Guard)(nil).Middleware(next) }

// defaultGuard is the Guard a nil *Guard stands for: the package
// defaults, unnamed, one per process.
var defaultGuard = sync.OnceValue(func() *Guard {
	g, _ := New("")
	return g
})

// key returns the request's key, "" when it has none.
func (g *Guard) key(r *http.Request) (string, error) {
	if g.cfg.keyFunc != nil {
		k, err := g.cfg.keyFunc(r)
		if err != nil {
			return "", errors.Join(ErrKeyInvalid, err)
		}
		return k, nil
	}
	vs := r.Header[g.cfg.header]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return ParseKey(vs[0])
	}
	return "", ErrKeyInvalid // one key per request
}

// scope is WithScope's function, or the authz principal's ID, else the
// client's address, each marked so the two never meet. It is returned in
// two parts to be joined, so the mark costs no allocation.
func (g *Guard) scope(r *http.Request) (string, string) {
	if g.cfg.scope != nil {
		return g.cfg.scope(r), ""
	}
	if p, ok := authz.FromContext(r.Context()); ok && p.ID != "" {
		return "principal:", p.ID
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return "client:", strings.Trim(host, "[]")
}

// readBody reads the request body into st's buffer and gives the request
// a reader of it for the handler.
func (g *Guard) readBody(r *http.Request, st *reqState) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > g.cfg.maxBody {
		return nil, &http.MaxBytesError{Limit: g.cfg.maxBody}
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		if int64(cap(st.body)) >= r.ContentLength {
			body = st.body[:r.ContentLength]
		} else {
			body = make([]byte, r.ContentLength)
		}
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = readAll(st.body[:0], io.LimitReader(r.Body, g.cfg.maxBody+1))
		if err == nil && int64(len(body)) > g.cfg.maxBody {
			st.body = body[:0]
			return nil, &http.MaxBytesError{Limit: g.cfg.maxBody}
		}
	}
	st.body = body[:0]
	if err != nil {
		return nil, err
	}
	st.rb.Reset(body)
	r.Body = &st.rb
	return body, nil
}

// readAll is io.ReadAll appending to b.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	if cap(b) < 512 {
		b = make([]byte, 0, 512)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// bodyReader is the request body read for the fingerprint, read again by
// the handler.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// fingerprint returns the request's fingerprint, in buf when it fits.
func (g *Guard) fingerprint(r *http.Request, body []byte, buf *[2 * sha256.Size]byte) ([]byte, error) {
	switch {
	case g.cfg.fingerprint != nil:
		fp, err := g.cfg.fingerprint(r, body)
		if err != nil {
			return nil, errors.Join(ErrFingerprint, err)
		}
		return append(buf[:0], fp...), nil
	case g.cfg.fields != nil:
		fp, err := fieldsFingerprint(g.cfg.fields, body)
		return append(buf[:0], fp...), err
	}
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range [...]string{r.Method, r.Pattern} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	h.Write(body)
	var sum [sha256.Size]byte
	hex.Encode(buf[:], h.Sum(sum[:0]))
	return buf[:], nil
}

// fieldsFingerprint hashes the JSON of the named fields of body.
func fieldsFingerprint(paths []string, body []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		reason := "the body is not a JSON object"
		if len(bytes.TrimSpace(body)) == 0 {
			reason = "empty body"
		}
		return "", &fingerprintError{reason: reason, err: err}
	}
	vals := make([]any, len(paths))
	for i, p := range paths {
		var v any = doc
		for part := range strings.SplitSeq(p, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[part]
		}
		vals[i] = v
	}
	enc, err := json.Marshal(vals) // object keys sorted: canonical
	if err != nil {
		return "", errors.Join(ErrFingerprint, err)
	}
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:]), nil
}

// fingerprintError says why WithFingerprintFields could not read the
// body, in words safe to show the client; it is ErrFingerprint (400).
type fingerprintError struct {
	reason string
	err    error
}

func (e *fingerprintError) Error() string {
	return ErrFingerprint.Error() + ": " + e.reason
}

func (e *fingerprintError) Unwrap() []error { return []error{ErrFingerprint, e.err} }

// HTTPStatus is ErrFingerprint's, so the reason is the problem's detail.
func (e *fingerprintError) HTTPStatus() int { return http.StatusBadRequest }

// replay writes a stored response. Headers the response already carries
// (set by middleware outside, such as a correlation id) are kept. The
// record of a MemoryStore is the stored one: its values are copied, with
// the replay header's (in one allocation when each header has one value),
// so that changing the written header in place changes nothing stored and
// no other replay.
func (g *Guard) replay(w http.ResponseWriter, resp *Response) {
	h := w.Header()
	var vals []string
	if g.fast != nil || g.cfg.replayHeader != "" {
		vals = make([]string, 0, len(resp.Header)+1)
	}
	if g.cfg.replayHeader != "" {
		vals = append(vals, "true")
		h[g.cfg.replayHeader] = vals[:1:1]
	}
	for k, vs := range resp.Header {
		if _, ok := h[k]; !ok {
			if g.fast != nil {
				i := len(vals)
				vals = append(vals, vs...)
				vs = vals[i:len(vals):len(vals)]
			}
			h[k] = vs
		}
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// writeError is the default error handler: paved.WriteError, with
// WithDocsURL's URL as the problem type of the draft's errors.
func (g *Guard) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := httpx.ProblemOf(err)
	p.CorrelationID = httpx.CorrelationID(r.Context())
	if g.cfg.docsURL != "" {
		for _, e := range [...]error{ErrKeyMissing, ErrKeyInvalid, ErrInProgress, ErrMismatch, ErrNotReplayable} {
			if errors.Is(err, e) {
				p.Type, p.Title = g.cfg.docsURL, title(e)
				break
			}
		}
	}
	httpx.WriteProblem(w, p)
}

// capture passes a response through to the client and keeps a copy of
// its status, headers and body (up to WithMaxResponse) for the store.
type capture struct {
	w        http.ResponseWriter
	g        *Guard
	status   int
	header   http.Header
	body     []byte
	overflow bool
	resp     Response
}

func (c *capture) Header() http.Header { return c.w.Header() }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		c.status = code
		c.header = c.g.storedHeader(c.w.Header())
	}
	c.w.WriteHeader(code)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if !c.overflow {
		if len(c.body)+len(p) > c.g.cfg.maxResponse {
			c.overflow, c.body = true, nil
		} else {
			c.body = append(c.body, p...)
		}
	}
	return c.w.Write(p)
}

// Flush flushes the client's writer, when it can.
func (c *capture) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(c.w).Flush()
}

// Unwrap returns the client's writer, for http.ResponseController.
func (c *capture) Unwrap() http.ResponseWriter { return c.w }

// response is what to store after the handler returned: nil (release)
// when the client went away before it finished or the status is not
// final; StatusNotStored when the body was too large to keep.
func (c *capture) response(r *http.Request) *Response {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK) // what net/http sends for a handler that wrote nothing
	}
	if r.Context().Err() != nil || !c.g.cfg.storeStatus(c.status) {
		return nil
	}
	if c.overflow {
		c.resp = Response{Status: StatusNotStored}
		return &c.resp
	}
	body := c.body
	if c.g.fast == nil {
		body = bytes.Clone(body) // another store may keep it; the buffer is reused
	}
	c.resp = Response{Status: c.status, Header: c.header, Body: body}
	return &c.resp
}

// storedHeader returns a copy of the headers of h that are stored, their
// values in one allocation when each has one value (appending to a full
// vals leaves the slices already taken as they are).
func (g *Guard) storedHeader(h http.Header) http.Header {
	if g.cfg.storedHeaders != nil {
		n := min(len(h), len(g.cfg.storedHeaders))
		out, vals := make(http.Header, n), make([]string, 0, n)
		for _, k := range g.cfg.storedHeaders {
			if vs, ok := h[k]; ok {
				i := len(vals)
				vals = append(vals, vs...)
				out[k] = vals[i:len(vals):len(vals)]
			}
		}
		return out
	}
	out, vals := make(http.Header, len(h)), make([]string, 0, len(h))
	for k, vs := range h {
		if g.storesHeader(k) {
			i := len(vals)
			vals = append(vals, vs...)
			out[k] = vals[i:len(vals):len(vals)]
		}
	}
	return out
}

// storesHeader reports whether the header k is stored, without
// WithStoredHeaders.
func (g *Guard) storesHeader(k string) bool {
	return !excludedHeader(k) && !strings.HasPrefix(k, "Proxy-") && k != g.cfg.replayHeader
}
