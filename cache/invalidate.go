package cache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// unsafe passes a request with an unsafe method (anything but GET, HEAD,
// OPTIONS and TRACE, unknown methods included) to next and, when the
// answer is not an error (2xx or 3xx), invalidates its target URI and
// the same-origin URIs in the answer's Location and Content-Location
// (RFC 9111 section 4.4). It does so when the status is written, before
// the client can see the answer and ask again.
func (rc *ResponseCache) unsafe(next http.Handler, w http.ResponseWriter, r *http.Request) {
	pw := &passWriter{ResponseWriter: w, rc: rc, r: r, invalidate: true}
	if rc.statusName != "" {
		pw.status = rc.statusName + "; fwd=method"
	}
	next.ServeHTTP(pw, r)
	if !pw.wrote {
		pw.final(http.StatusOK) // net/http sends 200 for a handler that writes nothing
	}
}

// bypass passes r to next untouched but for our Cache-Status member.
func (rc *ResponseCache) bypass(next http.Handler, w http.ResponseWriter, r *http.Request, fwd string) {
	if rc.statusName == "" {
		next.ServeHTTP(w, r)
		return
	}
	pw := &passWriter{ResponseWriter: w, rc: rc, r: r, status: rc.statusName + "; fwd=" + fwd}
	next.ServeHTTP(pw, r)
	if !pw.wrote {
		pw.final(http.StatusOK)
	}
}

// passWriter is the ResponseWriter of a request the cache passes
// through: it adds our Cache-Status member and invalidates, when the
// final status is written. Unwrap keeps http.ResponseController working.
type passWriter struct {
	http.ResponseWriter
	rc         *ResponseCache
	r          *http.Request
	status     string
	invalidate bool
	wrote      bool
}

func (w *passWriter) final(code int) {
	w.wrote = true
	if w.status != "" {
		w.Header().Add("Cache-Status", w.status)
	}
	if w.invalidate && code >= 200 && code < 400 {
		w.rc.invalidateFor(w.r, w.Header())
	}
}

func (w *passWriter) WriteHeader(code int) {
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.final(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *passWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *passWriter) Flush() { _ = w.FlushError() }

// FlushError reports what flushing the writer underneath reports, for
// http.ResponseController.
func (w *passWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// ReadFrom keeps sendfile working for what the cache passes through
// (Range requests to a file server, say): it calls the writer
// underneath's own ReadFrom, as io.Copy would not when the source has
// WriteTo.
func (w *passWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

func (w *passWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// invalidateFor invalidates r's target URI and the same-origin URIs in
// the Location and Content-Location fields of h, its response.
func (rc *ResponseCache) invalidateFor(r *http.Request, h http.Header) {
	ctx := r.Context()
	rc.invalidateURI(ctx, r.Host, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, true)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	for _, f := range [...]string{"Location", "Content-Location"} {
		v := h[f]
		if len(v) != 1 {
			continue
		}
		u, err := base.Parse(v[0])
		if err != nil || u.Scheme != scheme || !strings.EqualFold(u.Host, r.Host) {
			continue // another origin: not ours to invalidate
		}
		if u.Path == r.URL.Path && u.RawPath == r.URL.RawPath && u.RawQuery == r.URL.RawQuery {
			continue
		}
		rc.invalidateURI(ctx, r.Host, u.Path, u.RawPath, u.RawQuery, true)
	}
}

// invalidateURI removes the stored responses for one URI, every Vary
// variant of it, and supersedes its running loads; notify calls the
// WithInvalidationHook.
func (rc *ResponseCache) invalidateURI(ctx context.Context, host, path, rawPath, query string, notify bool) {
	k := reqKey{host: host, path: path, rawPath: rawPath, query: query}
	if rc.anyVary.Load() {
		rc.c.deleteMatching(func(x reqKey) bool {
			return x.path == k.path && x.query == k.query && x.host == k.host && x.rawPath == k.rawPath
		})
	} else {
		rc.c.Delete(k)
	}
	if notify && rc.cfg.http.onInvalidate != nil {
		rc.cfg.http.onInvalidate(ctx, host, uriOf(path, rawPath, query))
	}
}

// InvalidateURI removes the stored responses for the request target
// host and uri (path and query, as in a request line: "/items/1?x=1"),
// as an unsafe request to it through the middleware would, without
// calling the WithInvalidationHook: it is how an instance applies an
// invalidation that another instance of a fleet published from its hook.
// A uri that is not in that form (no leading "/", say) is an error, and
// nothing is removed.
func (rc *ResponseCache) InvalidateURI(host, uri string) error {
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Path == "" || u.Path[0] != '/' {
		return errors.New("cache: InvalidateURI: " + strconv.Quote(uri) + " is not a path and query")
	}
	rc.invalidateURI(context.Background(), host, u.Path, u.RawPath, u.RawQuery, false)
	return nil
}

func uriOf(path, rawPath, query string) string {
	u := url.URL{Path: path, RawPath: rawPath, RawQuery: query}
	return u.RequestURI()
}
