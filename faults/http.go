package faults

import (
	"net"
	"net/http"
)

// HeaderFault is the response header that names the rule whose fault a
// response carries, on every response a fault touched (injected errors,
// delayed and aborted responses, a transport's synthetic responses), so
// an injected failure is never mistaken for a real one.
const HeaderFault = "Paved-Fault"

// Middleware returns a handler that injects the faults of the rules in
// force into the requests it serves, before next:
//
//   - latency waits, then calls next (a request whose context ends first
//     is answered with the context's error: 499 or 504);
//   - an error is answered as problem+json with the rule's status;
//   - a reset drops the client's connection without a response (a TCP
//     reset on HTTP/1, a stream reset on HTTP/2);
//   - an abort calls next, sends its headers and the first half of its
//     first write, then drops the connection.
//
// Every response a fault touched carries the Paved-Fault header. To match
// rules by route, mount it inside the ServeMux, on the routes; to match by
// principal, inside authz's middleware. With no rules it costs an atomic
// load. On a nil *Injector it is next.
func (inj *Injector) Middleware(next http.Handler) http.Handler {
	if inj == nil {
		return next
	}
	return &middleware{inj: inj, next: next}
}

type middleware struct {
	inj  *Injector
	next http.Handler
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs := m.inj.rules.Load()
	if rs == nil {
		m.next.ServeHTTP(w, r)
		return
	}
	f := m.inj.pick(r.Context(), rs, &Call{Method: r.Method, Route: r.Pattern, Path: r.URL.Path, Host: r.Host, Header: r.Header})
	if f.c == nil {
		m.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set(HeaderFault, f.c.Name)
	if err := f.Wait(r.Context()); err != nil {
		m.inj.cfg.errorHandler(w, r, err)
		return
	}
	switch f.c.kind {
	case KindLatency:
		m.next.ServeHTTP(w, r)
	case KindError:
		m.inj.cfg.errorHandler(w, r, f.Err())
	case KindReset:
		reset(w)
	case KindAbort:
		aw := &abortWriter{ResponseWriter: w, keep: -1}
		m.next.ServeHTTP(aw, r)
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

// reset closes the client's connection with a TCP reset, or, where the
// connection cannot be taken over (HTTP/2), aborts the handler, which
// resets the stream.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	c := conn
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = nc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// abortWriter passes the headers and the first half of the first write
// on, and drops the rest.
type abortWriter struct {
	http.ResponseWriter
	keep int // bytes still to pass on; -1 before the first write
}

func (a *abortWriter) Write(p []byte) (int, error) {
	if a.keep < 0 {
		a.keep = len(p) / 2
	}
	n := min(a.keep, len(p))
	if n > 0 {
		if _, err := a.ResponseWriter.Write(p[:n]); err != nil {
			return 0, err
		}
		a.keep -= n
	}
	return len(p), nil
}

// Unwrap lets http.ResponseController reach the connection.
func (a *abortWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
