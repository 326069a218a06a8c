package audit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/httpx"
)

// routePolicy is a route's compiled policy.
type routePolicy struct {
	level          Level
	typ            string
	fields         *fieldSet
	capReq, capRes bool // capture the body, for the event or for fields
	recReq, recRes bool // record the body and headers in the event
	hdrReq, hdrRes bool // capture headers
}

func (e *Emitter) compileRoute(where string, r Route, c *config) (*routePolicy, error) {
	p := &routePolicy{level: r.Level, typ: r.Type}
	if p.level == 0 {
		p.level = c.level
	}
	if p.level > RequestResponse {
		return nil, errors.New("audit: " + where + ": unknown level " + p.level.String())
	}
	if p.typ == "" {
		p.typ = c.typ
	}
	fields := c.fields
	if len(r.Fields) > 0 {
		fields = make(map[string]string, len(c.fields)+len(r.Fields))
		for k, v := range c.fields {
			fields[k] = v
		}
		for k, v := range r.Fields {
			fields[k] = v
		}
	}
	fs, err := compileFields(where, fields)
	if err != nil {
		return nil, err
	}
	p.fields = fs
	p.recReq = p.level >= Request
	p.recRes = p.level >= RequestResponse
	p.capReq = p.recReq || fs.reqBody
	p.capRes = p.recRes || fs.resBody
	hdrs := len(c.headers) > 0
	p.hdrReq = hdrs && (p.recReq || fs.headers)
	p.hdrRes = hdrs && (p.recRes || fs.headers)
	return p, nil
}

// checkPattern reports whether pattern is one http.ServeMux accepts.
func checkPattern(pattern string) (err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("audit: WithRoute: " + pattern + " is not a valid ServeMux pattern")
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return nil
}

// Middleware returns next with an audit event for every request, at the
// level of its route (WithRoute, matched against r.Pattern) or the
// default level (WithLevel); level None and requests WithFilter skips pass
// straight through.
//
// The middleware puts a call record in the request's context for inner
// middleware (authz) to fill with the principal, the decision and the
// resources; it reads the status through a wrapper that keeps Flush,
// Hijack and http.ResponseController working, and at the Request and
// RequestResponse levels (or when a field expression reads a body) it
// copies the JSON bodies as the handler reads the request and writes the
// response, up to WithMaxBodyBytes, without holding back a byte: streaming
// is untouched. The event is queued when the handler returns (or panics),
// and written by the sink goroutines.
//
// In FailClosed mode a RequestReceived event (method, path, client,
// correlation id, not yet the principal, which inner middleware has not
// found yet) must be confirmed by every sink before the handler runs; if
// it is not within the timeout, the request gets 503 (ErrUnavailable, see
// WithErrorHandler) and the handler never runs, so no unaudited action
// happens. The ResponseComplete event follows as in Block mode.
//
// Mount it inside the ServeMux, on each route, for the route policies to
// apply: mux.Handle("POST /instances", em.Middleware(launch)). Wrapped
// around the mux it uses the default policy for every request and logs one
// Warn line saying so. On a nil *Emitter it logs that at Error and
// returns next.
func (e *Emitter) Middleware(next http.Handler) http.Handler {
	if e == nil {
		slog.Error("audit: Middleware of a nil *Emitter: requests are not audited")
		return next
	}
	if _, mux := next.(*http.ServeMux); mux && e.routes != nil {
		e.warnNoPattern()
	}
	return &middleware{e: e, next: next}
}

type middleware struct {
	e    *Emitter
	next http.Handler
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := m.e
	p := e.def
	if e.routes != nil {
		if rp, ok := e.routes[r.Pattern]; ok {
			p = rp
		} else if r.Pattern == "" && !e.warned.Load() {
			e.warnNoPattern()
		}
	}
	if p.level == None || (e.filter != nil && !e.filter(r)) {
		m.next.ServeHTTP(w, r)
		return
	}
	e.serve(p, m.next, w, r)
}

func (e *Emitter) serve(p *routePolicy, next http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := getRecord()
	rec.route = p
	rec.stage = StageResponseComplete
	rec.start = time.Now()
	rec.method = r.Method
	rec.path = r.URL.Path
	rec.pattern = r.Pattern
	rec.remoteAddr = r.RemoteAddr
	if e.clientIP != nil {
		if ip, err := e.clientIP(r); err == nil && ip != "" {
			rec.remoteAddr = ip
		}
	}
	rec.userAgent = r.Header.Get("User-Agent")
	ctx := r.Context()
	rec.corrID = httpx.CorrelationID(ctx)
	rec.traceID = traceID(ctx)

	if e.mode == FailClosed && !e.received(rec) {
		e.onError(w, r, ErrUnavailable)
		return
	}

	req := callinfo.WithRequest(r, &rec.info)
	rw, owned := httpx.Acquire(w)
	var out http.ResponseWriter = rw
	if p.hdrReq {
		rec.reqHdr = appendHeaders(rec.reqHdr, e.headers, r.Header)
	}
	if p.capReq {
		ct := r.Header.Get("Content-Type")
		c := &rec.req
		c.on, c.record, c.json, c.contentType, c.max = true, p.recReq, isJSON(ct), ct, e.maxBody
		if r.Body != nil && r.Body != http.NoBody {
			rec.reqBody = teeBody{rc: r.Body, c: c}
			req.Body = &rec.reqBody
		}
	}
	if p.capRes {
		c := &rec.res
		c.on, c.record, c.max = true, p.recRes, e.maxBody
		rec.resW = captureWriter{ResponseWriter: rw, c: c}
		out = &rec.resW
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover()
		status := http.StatusInternalServerError
		if v == http.ErrAbortHandler {
			status = httpx.StatusClientClosedRequest
		}
		e.complete(rec, req, rw, status)
		if v != nil {
			panic(v)
		}
	}()
	next.ServeHTTP(out, req)
	returned = true
	e.complete(rec, req, rw, 0)
	if owned {
		httpx.Release(rw)
	}
}

// received confirms rec's RequestReceived event, for FailClosed, and
// reports whether the handler may run. When it may not, it queues rec as
// the refused call's event.
func (e *Emitter) received(rec *record) bool {
	rr := getRecord()
	rr.route, rr.stage = rec.route, StageRequestReceived
	rr.start, rr.method, rr.path, rr.pattern = rec.start, rec.method, rec.path, rec.pattern
	rr.remoteAddr, rr.userAgent, rr.corrID, rr.traceID = rec.remoteAddr, rec.userAgent, rec.corrID, rec.traceID
	err := e.send(rr, FailClosed)
	if err == nil {
		return true
	}
	if e.dryRun {
		e.cfg.log().LogAttrs(context.Background(), slog.LevelWarn, "audit: dry run: request not refused although its event was not confirmed",
			slog.String("emitter", e.name), slog.String("route", rec.pattern), slog.String("error", err.Error()))
		return true
	}
	rec.end = time.Now()
	rec.status = http.StatusServiceUnavailable
	_ = e.push(rec, 0, time.Time{}, nil)
	return false
}

// complete queues the event of a call next has served; aborted, when not
// 0, is the status of a response next's panic aborted.
func (e *Emitter) complete(rec *record, req *http.Request, rw *httpx.ResponseWriter, aborted int) {
	rec.end = time.Now()
	rec.status = rw.Status()
	if aborted != 0 {
		rec.status = aborted
	}
	if errors.Is(req.Context().Err(), context.Canceled) {
		rec.status = httpx.StatusClientClosedRequest
	}
	if req.Pattern != "" {
		rec.pattern = req.Pattern
	}
	p := rec.route
	if p.capRes {
		h := rw.Header()
		rec.res.size = rw.BytesWritten()
		rec.res.contentType = h.Get("Content-Type")
	}
	if p.hdrRes {
		rec.resHdr = appendHeaders(rec.resHdr, e.headers, rw.Header())
	}
	rec.reqBody = teeBody{}
	rec.resW = captureWriter{}
	mode := e.mode
	if mode == FailClosed {
		mode = Block // confirmed before the handler ran; see Middleware
	}
	_ = e.send(rec, mode)
}

func appendHeaders(dst []string, names []string, h http.Header) []string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			dst = append(dst, n, v)
		}
	}
	return dst
}

// warnNoPattern logs, once, that the route policies cannot apply.
func (e *Emitter) warnNoPattern() {
	if e.warned.Swap(true) {
		return
	}
	e.cfg.log().Warn("audit: the middleware sees requests without a ServeMux pattern, so its WithRoute policies never apply; " +
		"mount it inside the ServeMux, on each route: mux.Handle(pattern, emitter.Middleware(h))")
}

// teeBody copies what the handler reads of the request body.
type teeBody struct {
	rc io.ReadCloser
	c  *capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		t.c.write(p[:n])
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// captureWriter copies a JSON response body as it is written. Flush,
// Hijack, Unwrap and the status come from the httpx.ResponseWriter it
// embeds; ReadFrom keeps sendfile for bodies it does not copy.
type captureWriter struct {
	*httpx.ResponseWriter
	c       *capture
	decided bool
}

func (w *captureWriter) decide() {
	if !w.decided {
		w.decided = true
		w.c.json = isJSON(w.Header().Get("Content-Type"))
	}
}

func (w *captureWriter) Write(p []byte) (int, error) {
	w.decide()
	n, err := w.ResponseWriter.Write(p)
	if w.c.json && n > 0 {
		w.c.write(p[:n])
	}
	return n, err
}

func (w *captureWriter) ReadFrom(r io.Reader) (int64, error) {
	w.decide()
	if !w.c.json {
		return w.ResponseWriter.ReadFrom(r)
	}
	return w.ResponseWriter.ReadFrom(io.TeeReader(r, captureSink{w.c}))
}

type captureSink struct{ c *capture }

func (s captureSink) Write(p []byte) (int, error) {
	s.c.write(p)
	return len(p), nil
}
