package tracing

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/internal/httpx"
)

// Access log attribute keys, besides the trace_id, span_id and
// correlation_id of NewHandler.
const (
	LogKeyMethod   = "method"
	LogKeyRoute    = "route"
	LogKeyStatus   = "status"
	LogKeyBytes    = "bytes"
	LogKeyDuration = "duration"
	LogKeyQuery    = "query"
	LogKeyHeaders  = "headers"
)

// AccessLogMessage is the message of every access log record.
const AccessLogMessage = "http request"

// Redacted replaces the value of a secret header or query parameter in
// access logs.
const Redacted = "[REDACTED]"

// AccessLog is Default().AccessLog.
func AccessLog(next http.Handler) http.Handler { return defaultTracer.AccessLog(next) }

// AccessLog logs one record per request when next returns or panics (the
// panic then goes on to net/http, which aborts the response: the record
// says 499 for http.ErrAbortHandler, which httputil.ReverseProxy panics
// with when the client hangs up, and 500 for any other panic), to the
// Tracer's logger (WithLogger), with the message AccessLogMessage and
// these attributes:
//
//	method          the request method
//	route           the http.ServeMux pattern that served it ("GET /instances/{id}"), "" if none
//	status          the status sent (200 if the handler wrote nothing; 499 if the client went away)
//	bytes           body bytes written
//	duration        seconds, as a float
//	correlation_id  trace_id  span_id   as NewHandler adds them
//	query           only with WithAccessLogQuery(true), secret parameters redacted
//	headers         only the request headers named by WithAccessLogHeaders, secrets redacted
//
// The path, the query string and headers are not logged by default: they
// carry ids, tokens and personal data. The level is Error for 5xx, Warn
// for 4xx and Info otherwise, unless WithAccessLogLevel says otherwise.
//
// AccessLog may sit outside or inside Middleware. Outside it, the route,
// the correlation id and the span are those the inner Middleware and
// ServeMux saw: ServeMux sets Request.Pattern on the request it is given,
// which is a copy the outer middleware never sees, so Middleware reports
// them back through the request context. Other middleware between
// AccessLog and the ServeMux that replaces the request (r.WithContext)
// hides the route unless Middleware sits below it. A second AccessLog
// inside the first one passes requests through without logging them
// again, and so does AccessLog for requests WithFilter skips (health
// checks, metrics scrapes). A nil *Tracer is Default().
func (t *Tracer) AccessLog(next http.Handler) http.Handler {
	if t == nil {
		t = defaultTracer
	}
	return &accessLog{t: t, next: next}
}

// accessLog is AccessLog's handler: a method rather than a closure, so
// that the request copy below stays inlined and shares the accessRequest
// allocation instead of taking one of its own.
type accessLog struct {
	t    *Tracer
	next http.Handler
}

func (a *accessLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, next := a.t, a.next
	if _, ok := r.Context().Value(accessKey{}).(*accessRecord); ok || (t.cfg.filter != nil && !t.cfg.filter(r)) {
		next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rw, owned := httpx.Acquire(w)
	ar := &accessRequest{ctx: accessCtx{Context: r.Context()}}
	ar.req = *r.WithContext(&ar.ctx)
	returned := false
	defer func() {
		if returned {
			return
		}
		// next panicked (or called runtime.Goexit) and net/http will
		// abort the response: log the request all the same, as 499
		// when the handler gave up on a client that went away
		// (http.ErrAbortHandler, as httputil.ReverseProxy panics),
		// else 500, and let the panic go on.
		p := recover()
		status := http.StatusInternalServerError
		if p == http.ErrAbortHandler {
			status = httpx.StatusClientClosedRequest
		}
		noteRequest(&ar.req)
		t.logAccess(r, rw, &ar.ctx.rec, time.Since(start), status)
		if p != nil {
			panic(p)
		}
	}()
	next.ServeHTTP(rw, &ar.req)
	returned = true
	noteRequest(&ar.req)
	t.logAccess(r, rw, &ar.ctx.rec, time.Since(start), 0)
	if owned { // not on a panic: whoever recovers it may still hold rw
		httpx.Release(rw)
	}
}

type accessKey struct{}

// accessRecord is what the layers inside AccessLog report back: the
// route the ServeMux matched and the innermost request context, which
// carries the correlation id and the server span.
type accessRecord struct {
	pattern string
	ctx     context.Context
}

type accessCtx struct {
	context.Context
	rec accessRecord
}

func (c *accessCtx) Value(key any) any {
	if key == (accessKey{}) {
		return &c.rec
	}
	return c.Context.Value(key)
}

// accessRequest is the request copy and its context node in one
// allocation.
type accessRequest struct {
	req http.Request
	ctx accessCtx
}

// noteRequest reports r, a request a paved layer passed down and that
// has come back, to an enclosing AccessLog. The first (innermost) report
// wins.
func noteRequest(r *http.Request) {
	rec, ok := r.Context().Value(accessKey{}).(*accessRecord)
	if !ok {
		return
	}
	if rec.pattern == "" {
		rec.pattern = r.Pattern
	}
	if rec.ctx == nil {
		rec.ctx = r.Context()
	}
}

// DefaultAccessLogLevel is the level of an access log record with the
// given status: Error for 5xx, Warn for 4xx, Info otherwise.
func DefaultAccessLogLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// logAccess writes the record of r; aborted, when not 0, is the status of
// a response next's panic aborted.
func (t *Tracer) logAccess(r *http.Request, rw *httpx.ResponseWriter, rec *accessRecord, d time.Duration, aborted int) {
	ctx := rec.ctx
	if ctx == nil {
		ctx = r.Context()
	}
	status := rw.Status()
	if aborted != 0 {
		status = aborted
	}
	// The server's own context, not an inner one a layer may have
	// cancelled on its way out.
	if errors.Is(r.Context().Err(), context.Canceled) {
		status = httpx.StatusClientClosedRequest // paved.StatusClientClosedRequest
	}
	level := t.cfg.accessLevel(status)
	logger := t.cfg.log()
	if !logger.Enabled(ctx, level) {
		return
	}
	var buf [10]slog.Attr
	attrs := append(buf[:0],
		slog.String(LogKeyMethod, r.Method),
		slog.String(LogKeyRoute, rec.pattern),
		slog.Int(LogKeyStatus, status),
		slog.Int64(LogKeyBytes, rw.BytesWritten()),
		slog.Float64(LogKeyDuration, d.Seconds()),
	)
	if _, ours := logger.Handler().(*handler); !ours {
		// NewHandler would add the ids from ctx; any other handler
		// gets them here.
		if id := CorrelationID(ctx); id != "" {
			attrs = append(attrs, slog.String(LogKeyCorrelationID, id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			tid, sid := traceIDs(sc)
			attrs = append(attrs, slog.String(LogKeyTraceID, tid), slog.String(LogKeySpanID, sid))
		}
	}
	if t.cfg.accessQuery && r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String(LogKeyQuery, redactQuery(r.URL.RawQuery)))
	}
	if len(t.cfg.accessHeaders) > 0 {
		attrs = append(attrs, slog.Any(LogKeyHeaders, headerAttrs(r.Header, t.cfg.accessHeaders)))
	}
	logger.LogAttrs(ctx, level, AccessLogMessage, attrs...)
}

// secretHeaders are logged as Redacted even when named.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"X-Api-Key":           true,
}

// headerAttrs returns a group of the named (canonical) request headers
// that are present, several values joined with ", ".
func headerAttrs(h http.Header, names []string) slog.Value {
	attrs := make([]slog.Attr, 0, len(names))
	for _, name := range names {
		vals, ok := h[name]
		if !ok {
			continue
		}
		v := strings.Join(vals, ", ")
		if secretHeaders[name] {
			v = Redacted
		}
		attrs = append(attrs, slog.String(name, v))
	}
	return slog.GroupValue(attrs...)
}

// secretParams are query parameters (compared in lower case) whose values
// are logged as Redacted.
var secretParams = map[string]bool{
	"access_token": true, "id_token": true, "refresh_token": true, "token": true,
	"api_key": true, "apikey": true, "key": true, "password": true, "passwd": true,
	"secret": true, "client_secret": true, "code": true, "auth": true,
	"signature": true, "sig": true, "session": true, "sessionid": true,
	"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
	"x-goog-signature": true, "x-goog-credential": true,
}

// redactQuery returns raw with the values of secret parameters replaced,
// keeping the order and encoding of the rest.
func redactQuery(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i, part := range strings.Split(raw, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, _, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && secretParams[strings.ToLower(name)] {
			b.WriteString(k)
			b.WriteString("=" + Redacted)
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}
