package audit

import (
	"context"
	"encoding/json"
	"time"
)

// SpecVersion is the CloudEvents version of every Event.
const SpecVersion = "1.0"

// ContentType is the datacontenttype of every Event: its data is a JSON
// object.
const ContentType = "application/json"

// DroppedType is the type of the drop-marker event an Emitter writes to a
// sink before the first event after a gap: events the sink never got
// because its queue was full or a Write failed. Its data.dropped says how
// many and which sequence numbers.
const DroppedType = "dev.paved.audit.dropped"

// DefaultType is the type of events of routes and calls given no type of
// their own (WithType, Route.Type).
const DefaultType = "dev.paved.audit.call"

// Stages of a call, as Kubernetes audit names them: an event is written
// when the response is complete, and in FailClosed mode also when the
// request is received, before the handler runs.
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseComplete = "ResponseComplete"
)

// Event is one audit event: a CloudEvents 1.0 event in the structured JSON
// format, whose data says who did what to which resource, when, from where
// and with what outcome. json.Marshal(*Event) is the structured JSON.
type Event struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"` // a UUIDv7
	// Source is a URI-reference naming the emitter (New's name unless
	// WithSource says otherwise).
	Source string `json:"source"`
	// Type says what happened, reverse-DNS style
	// ("com.example.instances.launch").
	Type string `json:"type"`
	// Time is when the stage the event reports was reached, in UTC; it
	// marshals as RFC 3339 with sub-second precision.
	Time time.Time `json:"time"`
	// Subject is the resource the call acted on, "kind/id", when known.
	Subject         string `json:"subject,omitempty"`
	DataContentType string `json:"datacontenttype"`
	// Sequence is the CloudEvents extension attribute "sequence": the
	// event's number in its emitter's order, decimal, starting at 1. A gap
	// is announced by a drop-marker event, never silent.
	Sequence string `json:"sequence"`
	// PrevHash is the extension attribute "prevhash", set by a FileSink
	// with a hash chain: the hash of the line before this one in the file.
	PrevHash string `json:"prevhash,omitempty"`
	// Data is the event's data, a JSON object.
	Data Data `json:"data"`
}

// Data is the data of an Event. Empty parts are left out of the JSON.
type Data struct {
	// Stage is StageResponseComplete, or StageRequestReceived for the
	// event a FailClosed emitter confirms before the handler runs.
	Stage string `json:"stage,omitempty"`
	// Principal is who made the call, when it was authenticated.
	Principal *Principal `json:"principal,omitempty"`
	// Authorization is how the call was authorized, when it was.
	Authorization *Authorization `json:"authorization,omitempty"`
	// Action is what was called.
	Action Action `json:"action,omitzero"`
	// Resources are the resources the call acted on, when known.
	Resources []Resource `json:"resources,omitempty"`
	// Outcome is how the call ended; absent for StageRequestReceived.
	Outcome *Outcome `json:"outcome,omitempty"`
	// Client is where the call came from.
	Client *Client `json:"client,omitempty"`
	// CorrelationID and TraceID tie the event to logs and traces.
	CorrelationID string `json:"correlationId,omitempty"`
	TraceID       string `json:"traceId,omitempty"`
	// Duration is how long the call took, in seconds.
	Duration float64 `json:"duration,omitempty"`
	// Messages counts the messages of a gRPC call.
	Messages *Messages `json:"messages,omitempty"`
	// Request and Response are the bodies and headers, at the levels that
	// record them (Request, RequestResponse).
	Request  *Payload `json:"request,omitempty"`
	Response *Payload `json:"response,omitempty"`
	// AdditionalFields are the values of the route's field expressions
	// (WithFields, Route.Fields), by name; a field whose expression failed
	// holds {"error": "..."}.
	AdditionalFields map[string]any `json:"additionalFields,omitempty"`
	// Dropped is set in drop-marker events (DroppedType) only.
	Dropped *Dropped `json:"dropped,omitempty"`
}

// Principal is who made a call.
type Principal struct {
	ID     string `json:"id"`
	Type   string `json:"type,omitempty"`
	Tenant string `json:"tenant,omitempty"`
}

// Authorization is how a call was authorized, as Kubernetes audit
// annotates authorization.k8s.io/decision and authorization.k8s.io/reason.
type Authorization struct {
	Decision string `json:"decision"` // "allow" or "deny"
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Action is what was called.
type Action struct {
	// Protocol is "http" or "grpc".
	Protocol string `json:"protocol,omitempty"`
	// Operation is the route pattern ("POST /instances") or the gRPC full
	// method ("/pkg.Service/Method").
	Operation string `json:"operation,omitempty"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
}

// Resource is a resource a call acted on.
type Resource struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Outcome is how a call ended.
type Outcome struct {
	// Code is the HTTP status, or the gRPC status code for gRPC calls.
	Code int `json:"code"`
	// Result is "success" or "failure" (an HTTP status of 400 or more, a
	// gRPC code other than OK).
	Result string `json:"result"`
	// Error is the kind of failure, a google.rpc.Code name such as
	// "PERMISSION_DENIED" or "UNAVAILABLE"; empty on success. It never
	// holds an error's text, which may carry internals.
	Error string `json:"error,omitempty"`
}

// Client is where a call came from.
type Client struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

// Messages counts the messages of a gRPC call.
type Messages struct {
	Received int64 `json:"received"`
	Sent     int64 `json:"sent"`
}

// Payload is a request or response as recorded at the Request and
// RequestResponse levels.
type Payload struct {
	// Headers are the headers named by WithHeaders, never credentials.
	Headers map[string]string `json:"headers,omitempty"`
	// ContentType is the body's media type.
	ContentType string `json:"contentType,omitempty"`
	// Size is the body's length in bytes as read or written.
	Size int64 `json:"size"`
	// Truncated says the body was longer than WithMaxBodyBytes and left
	// out.
	Truncated bool `json:"truncated,omitempty"`
	// Body is the body, redacted, when it is JSON and fits the cap.
	// Bodies of other media types are recorded by type and size only.
	Body json.RawMessage `json:"body,omitempty"`
}

// Dropped is the data of a drop-marker event: the sink missed Count events
// numbered First to Last (inclusive), for Reason "queue_full" or
// "write_failed". The marker's own Sequence is Last.
type Dropped struct {
	Count  int64  `json:"count"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
	Reason string `json:"reason"`
}

// Sink receives events from an Emitter, in batches, from one goroutine
// per sink.
//
// Write delivers the batch in order and returns nil only once every event
// in it is as durable as the sink promises (a FileSink: written and
// fsynced). An error means the batch, or part of it, was not delivered;
// the Emitter counts it failed. Write must return once ctx is done. Each
// sink gets *Event values of its own, whose PrevHash it may set; what
// their Data points to is shared with the other sinks and read-only.
//
// Close flushes and releases the sink; it is called once, after the last
// Write.
type Sink interface {
	Name() string
	Write(ctx context.Context, batch []*Event) error
	Close(ctx context.Context) error
}
