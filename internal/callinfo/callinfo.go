// Package callinfo carries what inner middleware learns about a call
// (who the caller is, how authorization decided) out to outer middleware
// such as audit, which wraps the call and so cannot see values that inner
// middleware puts in the request's context. The outer middleware puts an
// *Info in the context; the inner one fills it in when it finds one.
package callinfo

import (
	"context"
	"net/http"
)

// Resource is a resource a call looked up, by kind and id.
type Resource struct {
	Kind string
	ID   string
}

// Info is what one call's middleware learned. It is written by the
// goroutine serving the call and read by the outer middleware after the
// inner handler has returned, so it needs no lock.
type Info struct {
	// Operation is the route pattern or gRPC full method that served the call.
	Operation string

	// The principal, when the call was authenticated.
	PrincipalID     string
	PrincipalType   string
	PrincipalTenant string

	// Decision is "allow" or "deny" once authorization decided, "" before.
	Decision string
	// Rule names the rule(s) that decided; Reason says why, in the words
	// of the decision's Explain form, without the policy text.
	Rule   string
	Reason string

	// Resources are the resources the decision looked up.
	Resources []Resource
}

// Reset clears i for reuse, keeping the Resources array.
func (i *Info) Reset() {
	res := i.Resources[:0]
	*i = Info{Resources: res}
}

type key struct{}

// infoCtx is a context carrying an *Info, as context.WithValue(ctx,
// key{}, i) would.
type infoCtx struct {
	context.Context
	info *Info
}

func (c *infoCtx) Value(k any) any {
	if k == (key{}) {
		return c.info
	}
	return c.Context.Value(k)
}

func (c *infoCtx) String() string { return "callinfo.infoCtx" }

// With returns a copy of ctx that carries i.
func With(ctx context.Context, i *Info) context.Context {
	return &infoCtx{Context: ctx, info: i}
}

// requestWithInfo is one allocation holding both a request copy and its
// context node.
type requestWithInfo struct {
	req http.Request
	ctx infoCtx
}

// WithRequest returns a shallow copy of r whose context carries i, like
// r.WithContext(With(r.Context(), i)), in one allocation instead of two:
// this runs on every audited request.
func WithRequest(r *http.Request, i *Info) *http.Request {
	ri := &requestWithInfo{ctx: infoCtx{Context: r.Context(), info: i}}
	ri.req = *r.WithContext(&ri.ctx)
	return &ri.req
}

// From returns the Info in ctx, nil when there is none.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}
