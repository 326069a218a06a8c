package audit

import (
	"context"
	"encoding/json"
	"time"
)

// SpecVersion is the CloudEvents version of every Event.
const SpecVersion = "1.0"

// Event is one audit event: a CloudEvents 1.0 event in the structured JSON
// format, whose data says who did what to which resource, when, from where
// and with what outcome.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"` // a UUIDv7
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject,omitempty"`
	DataContentType string    `json:"datacontenttype"`
	// Sequence is the CloudEvents extension attribute "sequence": the
	// event's number in its emitter's order, decimal, starting at 1. A gap
	// is announced by a drop-marker event, never silent.
	Sequence string `json:"sequence"`
	// PrevHash is the extension attribute "prevhash", set by a FileSink
	// with a hash chain: the hash of the line before this one in the file.
	PrevHash string `json:"prevhash,omitempty"`
	// Data is the event's data, a JSON object.
	Data json.RawMessage `json:"data"`
}

// Sink receives events from an Emitter, in batches, from one goroutine
// per sink.
//
// Write delivers the batch in order and returns nil only once every event
// in it is as durable as the sink promises (a FileSink: written and
// fsynced). An error means the batch, or part of it, was not delivered;
// the Emitter counts it failed. Write must return once ctx is done.
//
// Close flushes and releases the sink; it is called once, after the last
// Write.
type Sink interface {
	Name() string
	Write(ctx context.Context, batch []*Event) error
	Close(ctx context.Context) error
}
