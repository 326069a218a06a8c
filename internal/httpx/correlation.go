package httpx

import (
	"context"
	"net/http"
)

// The correlation id lives here, not in package tracing, so that every
// package's problem responses and gRPC errors can carry it without
// importing tracing. tracing.CorrelationID and tracing.WithCorrelationID are
// the public API over it.

type correlationKey struct{}

// correlationCtx is a context carrying a correlation id. One allocation
// holds both the context node and the id; context.WithValue would need a
// second one to box the string.
type correlationCtx struct {
	context.Context
	id string
}

func (c *correlationCtx) Value(key any) any {
	if key == (correlationKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithCorrelationID returns a copy of ctx carrying the correlation id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return &correlationCtx{Context: ctx, id: id}
}

// CorrelationID returns the correlation id ctx carries, or "".
func CorrelationID(ctx context.Context) string {
	if c, ok := ctx.Value(correlationKey{}).(*correlationCtx); ok {
		return c.id
	}
	return ""
}

// requestWithCorrelation is one allocation holding both the request copy
// and its context node.
type requestWithCorrelation struct {
	req http.Request
	ctx correlationCtx
}

// RequestWithCorrelationID returns a shallow copy of r whose context
// carries the correlation id, like r.WithContext(WithCorrelationID(...)),
// in one allocation instead of two: this runs on every request.
func RequestWithCorrelationID(r *http.Request, id string) *http.Request {
	rc := &requestWithCorrelation{ctx: correlationCtx{Context: r.Context(), id: id}}
	rc.req = *r.WithContext(&rc.ctx)
	return &rc.req
}
