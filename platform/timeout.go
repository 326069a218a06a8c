package platform

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// withTimeout gives each request a deadline d from now. Handlers and the
// upstream proxy end their work when it passes; the proxy answers 504.
func withTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			parent := r.Context()
			deadline := time.Now().Add(d)
			if pd, ok := parent.Deadline(); ok && !pd.After(deadline) {
				next.ServeHTTP(w, r) // an earlier deadline already holds
				return
			}
			rd := newRequestWithDeadline(r, parent, deadline)
			defer rd.ctx.end()
			next.ServeHTTP(w, &rd.req)
		})
	}
}

// requestWithDeadline is one allocation holding both the request copy
// and its context.
type requestWithDeadline struct {
	req http.Request
	ctx deadlineContext
}

// newRequestWithDeadline returns a copy of r whose context is parent
// with the deadline. It is a function of its own, not part of the
// middleware's closure, for the compiler to see that WithContext's copy
// does not escape.
func newRequestWithDeadline(r *http.Request, parent context.Context, deadline time.Time) *requestWithDeadline {
	rd := &requestWithDeadline{ctx: deadlineContext{Context: parent, deadline: deadline}}
	rd.req = *r.WithContext(&rd.ctx)
	return rd
}

// deadlineContext is context.WithDeadline(parent, deadline), made only
// when someone needs it. Many handlers never look at their context's
// Done channel, and a timer context costs a timer, a registration with
// the parent and their channels on every request; this one costs one
// allocation until Done, Cause or context.AfterFunc asks for the real
// one, which then holds from the deadline set at the request's start.
// Err answers without it while the parent is live and the deadline is
// ahead.
type deadlineContext struct {
	context.Context // the parent
	deadline        time.Time

	mu     sync.Mutex
	real   context.Context // made by materialize
	cancel context.CancelFunc
	ended  bool // the handler returned
}

// materialize returns the real context, making it on first use; once
// the handler has returned it is made canceled.
func (c *deadlineContext) materialize() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real == nil {
		c.real, c.cancel = context.WithDeadline(c.Context, c.deadline)
		if c.ended {
			c.cancel()
		}
	}
	return c.real
}

// end cancels the context when the handler returns, as WithDeadline's
// cancel function does.
func (c *deadlineContext) end() {
	c.mu.Lock()
	c.ended = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (c *deadlineContext) Deadline() (time.Time, bool) {
	return c.deadline, true // earlier than the parent's, or withTimeout does not make one
}

func (c *deadlineContext) Done() <-chan struct{} { return c.materialize().Done() }

func (c *deadlineContext) Err() error {
	c.mu.Lock()
	real, ended := c.real, c.ended
	c.mu.Unlock()
	if real == nil && !ended && c.Context.Err() == nil && time.Now().Before(c.deadline) {
		return nil // no one can have seen it done
	}
	return c.materialize().Err()
}

// Value answers the context package's own lookups (context.Cause and
// the parent search of WithCancel and AfterFunc ask with an *int key)
// from the real context, and every other key from the parent.
func (c *deadlineContext) Value(key any) any {
	if _, ok := key.(*int); ok {
		return c.materialize().Value(key)
	}
	return c.Context.Value(key)
}

func (c *deadlineContext) String() string { return "platform.deadlineContext" }
