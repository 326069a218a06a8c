package authz

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
)

// evaluation is the state of one authorization: the environment, the
// virtual machine and the per-request memo of resources. Evaluations are
// pooled; one is used by one goroutine at a time.
type evaluation struct {
	env  env
	req  request
	ec   evalCtx
	vm   vm.VM
	anon Principal // principal of an anonymous caller: all zero

	res      *resolvers
	allow    []string // header allow-list, canonical
	hr       *http.Request
	headers  Headers // when not an http.Request
	rawQuery string

	memo    []memo
	lookups int
	outage  error // the first resolver failure that was not ErrNotFound

	// The body is read when the first rule that reads it runs, so a rule
	// decided earlier (an admin's) costs no body read and a bad body
	// fails only requests whose decision needed it.
	call     *Call // the body's source when not hr
	maxBody  int64
	maxDepth int
	bodyRead bool
	bodyErr  error
}

// loadBody reads and parses the body once, into req.Body or bodyErr.
func (ev *evaluation) loadBody() {
	if ev.bodyRead {
		return
	}
	ev.bodyRead = true
	switch {
	case ev.hr != nil:
		ev.req.Body, ev.bodyErr = readBody(ev.hr, ev.maxBody, ev.maxDepth)
	case ev.call != nil && ev.call.Body != nil:
		data, err := ev.call.Body()
		switch {
		case err != nil:
			ev.bodyErr = err
		case int64(len(data)) > ev.maxBody:
			ev.bodyErr = ErrBodyTooLarge
		default:
			ev.req.Body, ev.bodyErr = parseJSON(data, ev.maxDepth)
		}
	}
}

type memo struct {
	kind, id string
	value    any
	err      error
}

func newEvaluation() *evaluation {
	ev := &evaluation{}
	ev.env.Request = &ev.req
	ev.ec.ev = ev
	ev.env.Ctx = &ev.ec
	ev.req.PathValue = ev.pathValue
	ev.req.Query = ev.query
	ev.req.Header = ev.header
	ev.env.HasRole = func(role string) bool { return ev.env.Principal.HasRole(role) }
	ev.env.HasScope = func(scope string) bool { return ev.env.Principal.HasScope(scope) }
	ev.env.HasPermission = ev.env.HasScope
	ev.env.InTenant = func(t string) bool { return t != "" && ev.env.Principal.Tenant == t }
	return ev
}

// set fills the environment for a call by p (nil: anonymous) at now.
func (ev *evaluation) set(p *Principal, now time.Time) {
	if p == nil {
		p = &ev.anon
	}
	ev.env.Principal = p
	ev.env.Now = now
}

// setHTTP fills the environment for r.
func (ev *evaluation) setHTTP(r *http.Request, p *Principal, now time.Time) {
	ev.set(p, now)
	ev.hr = r
	ev.ec.Context = r.Context()
	ev.req.Method = r.Method
	ev.req.Path = r.URL.Path
	ev.req.Pattern = r.Pattern
	ev.rawQuery = r.URL.RawQuery
}

// reset drops every reference to the request, for the pool.
func (ev *evaluation) reset() {
	ev.env.Principal = nil
	ev.ec.Context = nil
	ev.req.Method, ev.req.Path, ev.req.Pattern = "", "", ""
	ev.req.Body = nil
	ev.hr, ev.headers, ev.rawQuery = nil, nil, ""
	ev.call, ev.bodyRead, ev.bodyErr = nil, false, nil
	clear(ev.memo)
	ev.memo = ev.memo[:0]
	ev.lookups = 0
	ev.outage = nil
	ev.res = nil
}

func (ev *evaluation) pathValue(name string) string {
	if ev.hr == nil {
		return ""
	}
	return ev.hr.PathValue(name)
}

func (ev *evaluation) header(name string) string {
	if !allowedHeader(ev.allow, name) {
		return ""
	}
	if ev.hr != nil {
		return ev.hr.Header.Get(name)
	}
	if ev.headers != nil {
		return ev.headers.Get(name)
	}
	return ""
}

// query returns the first value of the query parameter name without
// parsing the whole query into a map.
func (ev *evaluation) query(name string) string {
	q := ev.rawQuery
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			u, err := url.QueryUnescape(v)
			if err != nil {
				return ""
			}
			return u
		}
		return v
	}
	return ""
}
