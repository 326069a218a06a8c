package httpx

import "context"

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
