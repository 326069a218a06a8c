package audit

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/internal/callinfo"
)

// record is what the request path hands to the sink goroutines: an
// event given to Emit, or what the middleware saw of a call, from which
// the first sink goroutine to need it builds the event (expressions,
// redaction, JSON), off the request path. Records are pooled: the last
// sink goroutine done with one puts it back.
type record struct {
	refs  atomic.Int32 // sinks still to write it
	seq   uint64
	ack   *ack // FailClosed confirmation, or nil
	once  sync.Once
	event *Event
	// The parsed, unredacted bodies, for sinks with an HMAC key.
	reqTree, resTree any

	user *Event // Emit's event; nil for a call the middleware saw

	route      *routePolicy
	stage      string
	start, end time.Time
	method     string
	path       string
	pattern    string
	remoteAddr string
	userAgent  string
	corrID     string
	traceID    trace.TraceID
	status     int
	info       callinfo.Info
	reqHdr     []string // name, value pairs
	resHdr     []string
	req, res   capture
	reqBody    teeBody       // the request body's wrapper
	resW       captureWriter // the response writer's wrapper
}

// capture is a body as the middleware captured it.
type capture struct {
	on          bool // captured (for the event or for expressions)
	record      bool // recorded in the event (the level asks for it)
	json        bool // the content type is JSON
	contentType string
	size        int64
	truncated   bool
	buf         []byte // the first maxBody bytes, when json
	max         int
}

func (c *capture) write(p []byte) {
	c.size += int64(len(p))
	if !c.json || c.truncated {
		return
	}
	if len(c.buf)+len(p) > c.max {
		c.truncated = true
		c.buf = c.buf[:0]
		return
	}
	c.buf = append(c.buf, p...)
}

func (c *capture) reset() {
	*c = capture{buf: c.buf[:0]}
}

var records = sync.Pool{New: func() any { return new(record) }}

func getRecord() *record { return records.Get().(*record) }

// putRecord clears rec and puts it back in the pool, keeping its buffers.
// It clears field by field: assigning a whole zero record would copy all
// of it, under the write barrier while the GC runs.
func putRecord(rec *record) {
	if cap(rec.req.buf) > 1<<20 || cap(rec.res.buf) > 1<<20 {
		return // do not keep huge buffers alive
	}
	rec.seq = 0
	rec.ack = nil
	rec.once = sync.Once{}
	rec.event = nil
	rec.reqTree, rec.resTree = nil, nil
	rec.user = nil
	rec.route = nil
	rec.stage = ""
	rec.start, rec.end = time.Time{}, time.Time{}
	rec.method, rec.path, rec.pattern = "", "", ""
	rec.remoteAddr, rec.userAgent, rec.corrID = "", "", ""
	rec.traceID = trace.TraceID{}
	rec.status = 0
	rec.info.Reset()
	rec.reqHdr, rec.resHdr = rec.reqHdr[:0], rec.resHdr[:0]
	if rec.req.on {
		rec.req.reset()
	}
	if rec.res.on {
		rec.res.reset()
	}
	rec.reqBody = teeBody{}
	rec.resW = captureWriter{}
	records.Put(rec)
}

// release is a sink goroutine being done with rec.
func (rec *record) release() {
	if rec.refs.Add(-1) == 0 {
		putRecord(rec)
	}
}

func traceID(ctx context.Context) trace.TraceID {
	return trace.SpanContextFromContext(ctx).TraceID()
}

// build makes rec's event.
func (e *Emitter) build(rec *record, rnd io.Reader) *Event {
	if ev := rec.user; ev != nil {
		e.fill(ev, rec, rnd)
		if ev.Data.CorrelationID == "" {
			ev.Data.CorrelationID = rec.corrID
		}
		if ev.Data.TraceID == "" && rec.traceID.IsValid() {
			ev.Data.TraceID = rec.traceID.String()
		}
		ev.Data.Request, rec.reqTree = e.redactPayload(ev.Data.Request)
		ev.Data.Response, rec.resTree = e.redactPayload(ev.Data.Response)
		return ev
	}
	p := rec.route
	// One allocation for the event, the parts it points to and the bytes
	// of its id and sequence, which are never written again once set.
	ce := &callEvent{Event: Event{Type: p.typ, Time: rec.end}}
	ev := &ce.Event
	if rec.stage == StageRequestReceived {
		ev.Time = rec.start
	}
	if formatID(&ce.id, ev.Time, rnd) {
		ev.ID = unsafe.String(&ce.id[0], len(ce.id))
	}
	seq := strconv.AppendUint(ce.seq[:0], rec.seq, 10)
	ev.Sequence = unsafe.String(&seq[0], len(seq))
	e.fill(ev, rec, rnd)
	d := &ev.Data
	d.Stage = rec.stage
	info := &rec.info
	if info.PrincipalID != "" {
		ce.principal = Principal{ID: info.PrincipalID, Type: info.PrincipalType, Tenant: info.PrincipalTenant}
		d.Principal = &ce.principal
	}
	if info.Decision != "" {
		ce.authz = Authorization{Decision: info.Decision, Rule: info.Rule, Reason: info.Reason}
		d.Authorization = &ce.authz
	}
	op := info.Operation
	if op == "" {
		op = rec.pattern
	}
	d.Action = Action{Protocol: "http", Operation: op, Method: rec.method, Path: rec.path}
	if len(info.Resources) > 0 {
		if len(info.Resources) == 1 {
			d.Resources = ce.res[:1:1] // capped: an append by a sink copies
		} else {
			d.Resources = make([]Resource, len(info.Resources))
		}
		for i, r := range info.Resources {
			d.Resources[i] = Resource{Kind: r.Kind, ID: r.ID}
		}
		ev.Subject = info.Resources[0].Kind + "/" + info.Resources[0].ID
	}
	if rec.stage == StageResponseComplete {
		ce.outcome = httpOutcome(rec.status)
		d.Outcome = &ce.outcome
		d.Duration = rec.end.Sub(rec.start).Seconds()
	}
	ip := rec.remoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if ip != "" || rec.userAgent != "" {
		ce.client = Client{IP: ip, UserAgent: rec.userAgent}
		d.Client = &ce.client
	}
	d.CorrelationID = rec.corrID
	if rec.traceID.IsValid() {
		d.TraceID = rec.traceID.String()
	}

	var reqBody, resBody any
	exprs := len(p.fields.fields) > 0
	d.Request, reqBody, rec.reqTree = e.payload(&rec.req, rec.reqHdr, exprs)
	d.Response, resBody, rec.resTree = e.payload(&rec.res, rec.resHdr, exprs)
	if exprs {
		en := &env{
			Request: requestEnv{Method: rec.method, Path: rec.path, Pattern: rec.pattern,
				Headers: headerMap(rec.reqHdr), Body: reqBody},
			Response:  responseEnv{Status: rec.status, Headers: headerMap(rec.resHdr), Body: resBody},
			Principal: principalEnv{ID: info.PrincipalID, Type: info.PrincipalType, Tenant: info.PrincipalTenant},
		}
		d.AdditionalFields = p.fields.eval(en)
	}
	return ev
}

// fill sets the envelope attributes ev leaves empty.
func (e *Emitter) fill(ev *Event, rec *record, rnd io.Reader) {
	ev.SpecVersion = SpecVersion
	if ev.Time.IsZero() {
		ev.Time = rec.end
	}
	ev.Time = ev.Time.UTC()
	if ev.ID == "" {
		ev.ID = newID(ev.Time, rnd)
	}
	if ev.Source == "" {
		ev.Source = e.source
	}
	if ev.Type == "" {
		ev.Type = DefaultType
	}
	if ev.DataContentType == "" {
		ev.DataContentType = ContentType
	}
	if ev.Sequence == "" || rec.user != nil {
		ev.Sequence = strconv.FormatUint(rec.seq, 10)
	}
}

// payload returns the recorded part of a captured body, the redacted body
// for expressions, and the parsed unredacted body for HMAC sinks.
func (e *Emitter) payload(c *capture, hdr []string, exprs bool) (p *Payload, forExprs, tree any) {
	if !c.on {
		return nil, nil, nil
	}
	if c.record {
		p = &Payload{ContentType: c.contentType, Size: c.size, Truncated: c.truncated, Headers: headerMap(hdr)}
	}
	if !c.json || c.truncated || len(c.buf) == 0 {
		return p, nil, nil
	}
	tree, ok := parseJSON(c.buf)
	if !ok {
		return p, nil, nil
	}
	var masked any
	if e.hmac {
		masked = e.red.redact(tree, mask) // HMAC sinks redact tree their way
	} else {
		masked, tree = e.red.redactInPlace(tree, mask), nil
	}
	if p != nil {
		p.Body = marshalBody(masked)
	}
	if exprs {
		forExprs = forExpr(masked)
	}
	return p, forExprs, tree
}

// redactPayload returns a copy of an Emit caller's payload with its body
// redacted (or left out, when it is not JSON), and the parsed body for
// HMAC sinks.
func (e *Emitter) redactPayload(p *Payload) (*Payload, any) {
	if p == nil || len(p.Body) == 0 {
		return p, nil
	}
	cp := *p
	cp.Body = nil
	tree, ok := parseJSON(p.Body)
	if !ok {
		return &cp, nil
	}
	cp.Body = marshalBody(e.red.redact(tree, mask))
	return &cp, tree
}

func marshalBody(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func headerMap(pairs []string) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

// callEvent is an event of a call with the parts its data points to.
type callEvent struct {
	Event
	principal Principal
	authz     Authorization
	outcome   Outcome
	client    Client
	res       [1]Resource // Data.Resources of a call that looked one up
	id        [36]byte    // the bytes of Event.ID
	seq       [20]byte    // the bytes of Event.Sequence
}

// httpOutcome is the outcome of an HTTP status.
func httpOutcome(status int) Outcome {
	o := Outcome{Code: status, Result: "success"}
	if status >= 400 {
		o.Result = "failure"
		o.Error = errorKind(status)
	}
	return o
}

// errorKind names the kind of failure of an HTTP status as google.rpc.Code
// does.
func errorKind(status int) string {
	switch status {
	case 400, 413, 415, 422:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 416:
		return "OUT_OF_RANGE"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 405, 501:
		return "UNIMPLEMENTED"
	case 502, 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}
