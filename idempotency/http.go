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
	"slices"
	"strings"
	"sync"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/httpx"
)

var replayTrue = []string{"true"}

// Middleware returns next guarded: a request carrying a key runs next
// once; its retries get the stored response, marked with the replay
// header. A request without a key passes through (or, WithRequired, gets
// 400). Mount it on the routes it protects, inside the ServeMux, so the
// key is scoped by the route pattern (r.Pattern) rather than the path.
// A nil *Guard uses the package defaults.
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
		body, err := g.readBody(r)
		if err != nil {
			g.onError(w, r, err)
			return
		}
		fp, err := g.fingerprint(r, body)
		if err != nil {
			g.onError(w, r, err)
			return
		}
		call := Call{Scope: g.scope(r), Method: r.Method, Route: r.Pattern, Key: key, Fingerprint: fp}
		if call.Route == "" {
			call.Route = r.URL.Path
		}
		cw := capture{w: w, g: g}
		resp, replayed, err := g.Do(r.Context(), call, func(ctx context.Context) *Response {
			next.ServeHTTP(&cw, r)
			return cw.response(r)
		})
		switch {
		case err != nil:
			g.onError(w, r, err)
		case replayed:
			g.replay(w, resp)
		}
	})
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
// client's address, each marked so the two never meet.
func (g *Guard) scope(r *http.Request) string {
	if g.cfg.scope != nil {
		return g.cfg.scope(r)
	}
	if p, ok := authz.FromContext(r.Context()); ok && p.ID != "" {
		return "principal:" + p.ID
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	return "client:" + strings.Trim(host, "[]")
}

func (g *Guard) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > g.cfg.maxBody {
		return nil, &http.MaxBytesError{Limit: g.cfg.maxBody}
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, g.cfg.maxBody+1))
		if err == nil && int64(len(body)) > g.cfg.maxBody {
			return nil, &http.MaxBytesError{Limit: g.cfg.maxBody}
		}
	}
	if err != nil {
		return nil, err
	}
	rb := &bodyReader{}
	rb.Reset(body)
	r.Body = rb
	return body, nil
}

// bodyReader is the request body read for the fingerprint, read again by
// the handler.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

func (g *Guard) fingerprint(r *http.Request, body []byte) (string, error) {
	switch {
	case g.cfg.fingerprint != nil:
		fp, err := g.cfg.fingerprint(r, body)
		if err != nil {
			return "", errors.Join(ErrFingerprint, err)
		}
		return fp, nil
	case g.cfg.fields != nil:
		return fieldsFingerprint(g.cfg.fields, body)
	}
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range [...]string{r.Method, r.Pattern} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	h.Write(body)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])), nil
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
// (set by middleware outside, such as a correlation id) are kept.
func (g *Guard) replay(w http.ResponseWriter, resp *Response) {
	h := w.Header()
	for k, vs := range resp.Header {
		if _, ok := h[k]; !ok {
			h[k] = vs
		}
	}
	if g.cfg.replayHeader != "" {
		h[g.cfg.replayHeader] = replayTrue
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
		return &Response{Status: StatusNotStored}
	}
	return &Response{Status: c.status, Header: c.header, Body: c.body}
}

// storedHeader returns the headers of h that are stored.
func (g *Guard) storedHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	if g.cfg.storedHeaders != nil {
		for _, k := range g.cfg.storedHeaders {
			if vs, ok := h[k]; ok {
				out[k] = slices.Clip(slices.Clone(vs))
			}
		}
		return out
	}
	for k, vs := range h {
		if !excludedHeader(k) && !strings.HasPrefix(k, "Proxy-") && k != g.cfg.replayHeader {
			out[k] = slices.Clip(slices.Clone(vs))
		}
	}
	return out
}
