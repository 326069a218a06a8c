package breaker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// WithErrorHandler replaces how Middleware answers a request it rejects;
// err is the *OpenError. The default, httpx.WriteError, answers 503
// application/problem+json with Retry-After in seconds until the breaker
// half-opens, rounded up.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return optionFunc(func(c *config) {
		if h == nil {
			c.fail(errors.New("breaker: WithErrorHandler: nil handler"))
			return
		}
		c.errorHandler = h
	})
}

// WithTransportFallback is called by Transport when the breaker rejects a
// request (err is the *OpenError) or the request fails (a transport error,
// or a *StatusError for a failure status). A response or error it returns
// is returned instead, and a failed response is closed; returning nil, nil
// keeps the original outcome. Use it to serve a last good response.
// A nil fallback is an error from New.
func WithTransportFallback(fallback func(r *http.Request, err error) (*http.Response, error)) Option {
	return optionFunc(func(c *config) {
		if fallback == nil {
			c.fail(errors.New("breaker: WithTransportFallback: nil function"))
			return
		}
		c.transportFallback = fallback
	})
}

// WithFailureStatus decides which response status codes count as failures
// (default: 5xx for Middleware; 5xx and 429 for Transport). Other statuses,
// 4xx included, are successes: the dependency answered.
func WithFailureStatus(isFailure func(status int) bool) Option {
	return optionFunc(func(c *config) {
		if isFailure == nil {
			c.fail(errors.New("breaker: WithFailureStatus: nil function"))
			return
		}
		c.failureStatus = isFailure
	})
}

// WithFilter lets Middleware and Transport pass requests for which keep
// returns false straight through, uncounted, such as health checks. A nil
// keep is an error from New.
func WithFilter(keep func(*http.Request) bool) Option {
	return optionFunc(func(c *config) {
		if keep == nil {
			c.fail(errors.New("breaker: WithFilter: nil function"))
			return
		}
		c.filter = keep
	})
}

func serverFailure(status int) bool { return status >= 500 }

func clientFailure(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// Middleware protects next with a new Registry of default breakers, one per
// ServeMux pattern. Use NewRegistry and its Middleware to configure them.
func Middleware(next http.Handler) http.Handler {
	r, _ := NewRegistry() // cannot fail without options
	return r.Middleware(next)
}

// Transport returns a RoundTripper protecting each upstream host behind
// base with its own default breaker, in a new Registry. A nil base means
// paved's default base transport. Use NewRegistry and its Transport to configure.
func Transport(base http.RoundTripper) http.RoundTripper {
	r, _ := NewRegistry()
	return r.Transport(base)
}

// Middleware protects next, the server's own handler, with the registry's
// breaker for each request's key (default: r.Pattern, so put it inside
// the ServeMux, on each route; outside one, every request shares the key
// "*"). Responses with a failure status (5xx) and panics are failures,
// 4xx responses are successes, and requests whose client went away are
// ignored: their context was canceled, or next panicked with
// http.ErrAbortHandler, which then propagates. A rejected request never
// reaches next: it gets the error handler's answer, by default 503
// problem+json with Retry-After. Middleware allocates nothing per request
// of its own: its status-recording ResponseWriter comes from a pool, or
// is the one an outer paved middleware already installed.
//
// A nil *Registry is a new Registry of default breakers, as the package
// function Middleware uses.
func (reg *Registry) Middleware(next http.Handler) http.Handler {
	if reg == nil {
		return Middleware(next)
	}
	key := reg.cfg.requestKey
	if key == nil {
		key = patternKey
	}
	filter := reg.cfg.filter
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if filter != nil && !filter(r) {
			next.ServeHTTP(w, r)
			return
		}
		reg.Get(key(r)).serve(w, r, next)
	})
}

// Middleware is Registry.Middleware with b for every request. A nil
// *Breaker is the package function Middleware: a default breaker per
// route.
func (b *Breaker) Middleware(next http.Handler) http.Handler {
	if b == nil {
		return Middleware(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.cfg.filter != nil && !b.cfg.filter(r) {
			next.ServeHTTP(w, r)
			return
		}
		b.serve(w, r, next)
	})
}

func patternKey(r *http.Request) string {
	if r.Pattern == "" {
		return "*"
	}
	return r.Pattern
}

func hostKey(r *http.Request) string {
	if r.URL.Host != "" {
		return r.URL.Host
	}
	return r.Host
}

func (b *Breaker) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rw, owned := httpx.Acquire(w)
	isFailure := b.cfg.failureStatus
	if isFailure == nil {
		isFailure = serverFailure
	}
	aborted := false
	res, err := b.run(r.Context(), b.cfg.classify, func(context.Context) (err error) {
		returned := false
		defer func() {
			if returned {
				return
			}
			// The client is gone (or next gave up on it on purpose): the
			// abort says nothing about this service's health. net/http
			// prints no stack for it, so nothing is lost by re-raising it
			// once the call is counted. Other panics go on at once, their
			// stack intact, and count as failures.
			switch p := recover(); p {
			case nil: // runtime.Goexit
			case http.ErrAbortHandler:
				aborted, err = true, errAborted
			default:
				panic(p)
			}
		}()
		next.ServeHTTP(rw, r)
		returned = true
		if st := rw.Status(); isFailure(st) {
			return &StatusError{StatusCode: st}
		}
		return nil
	}, nil)
	if aborted {
		panic(http.ErrAbortHandler)
	}
	if res == resRejected {
		if h := b.cfg.errorHandler; h != nil {
			h(rw, r, err)
		} else {
			httpx.WriteError(rw, r, err)
		}
	}
	if owned { // not on a panic: whoever recovers it may still hold rw
		httpx.Release(rw)
	}
}

// Transport returns a RoundTripper that sends each request through the
// registry's breaker for its key (default: the URL's host). Transport
// errors, timeouts and failure statuses (5xx, 429) are failures; requests
// the caller canceled are ignored. A rejected request returns an error
// wrapping *OpenError without touching the network, unless
// WithTransportFallback answers it. A nil base means paved's default base transport (see paved.DefaultTransport).
//
// The outcome is decided when the response headers arrive: a failure
// while reading the body is not counted. With WithSlowCallThreshold, a
// call is timed until the response headers arrive, less the time the
// caller took to send the request body, so a slow upload does not count
// as a slow dependency; see the package doc.
//
// A nil *Registry is a new Registry of default breakers, as the package
// function Transport uses.
func (reg *Registry) Transport(base http.RoundTripper) http.RoundTripper {
	if reg == nil {
		return Transport(base)
	}
	base = httpx.BaseTransport(base)
	key := reg.cfg.requestKey
	if key == nil {
		key = hostKey
	}
	return &transport{base: base, reg: reg, key: key, filter: reg.cfg.filter}
}

// Transport is Registry.Transport with b for every request. A nil
// *Breaker is the package function Transport: a default breaker per host.
func (b *Breaker) Transport(base http.RoundTripper) http.RoundTripper {
	if b == nil {
		return Transport(base)
	}
	base = httpx.BaseTransport(base)
	return &transport{base: base, b: b, filter: b.cfg.filter}
}

type transport struct {
	base   http.RoundTripper
	b      *Breaker // or reg and key
	reg    *Registry
	key    func(*http.Request) string
	filter func(*http.Request) bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.filter != nil && !t.filter(r) {
		return t.base.RoundTrip(r)
	}
	b := t.b
	if b == nil {
		b = t.reg.Get(t.key(r))
	}
	isFailure := b.cfg.failureStatus
	if isFailure == nil {
		isFailure = clientFailure
	}
	// Only with a slow-call threshold and a body to upload: the trace
	// costs a few allocations (BenchmarkTransport), and without a body
	// there is no upload to leave out.
	var clk *uploadClock
	req := r
	if b.cfg.slow > 0 && r.Body != nil && r.Body != http.NoBody {
		clk = newUploadClock()
		req = r.WithContext(httptrace.WithClientTrace(r.Context(), &clk.trace))
	}
	var resp *http.Response
	res, err := b.run(r.Context(), b.cfg.classify, func(context.Context) error {
		if clk != nil {
			clk.start = time.Now()
		}
		var err error
		if resp, err = t.base.RoundTrip(req); err != nil {
			return err
		}
		if isFailure(resp.StatusCode) {
			return &StatusError{StatusCode: resp.StatusCode}
		}
		return nil
	}, clk)
	if res == resRejected && r.Body != nil {
		r.Body.Close() // a RoundTripper closes the body, even unsent
	}
	if fb := b.cfg.transportFallback; fb != nil && fallbackApplies(err, res) {
		if fresp, ferr := fb(r, err); fresp != nil || ferr != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return fresp, ferr
		}
	}
	if resp != nil {
		return resp, nil // a failure status is still the caller's response
	}
	return nil, err
}

// CloseIdleConnections closes idle connections of the base transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// uploadClock times a Transport call for the slow-call check without
// the time the caller took to send the request body, from the request
// headers written to the request written (httptrace's WroteHeaders and
// WroteRequest), so a caller slow to upload does not make the dependency
// look slow. The hooks may run on the transport's own goroutines, even
// after RoundTrip returned, hence the atomics.
type uploadClock struct {
	trace   httptrace.ClientTrace
	start   time.Time    // set before the base RoundTrip starts
	headers atomic.Int64 // 1 + time from start until the headers were written; 0 before
	wrote   atomic.Int64 // 1 + time from start until the body was written; 0 before
}

func newUploadClock() *uploadClock {
	c := &uploadClock{}
	c.trace.WroteHeaders = func() { c.headers.Store(int64(time.Since(c.start)) + 1) }
	c.trace.WroteRequest = func(httptrace.WroteRequestInfo) { c.wrote.Store(int64(time.Since(c.start)) + 1) }
	return c
}

// took is how long the dependency took, as of end: the whole call less
// the upload of the body.
func (c *uploadClock) took(end time.Time) time.Duration {
	total := end.Sub(c.start)
	h := c.headers.Load()
	if h == 0 { // a base RoundTripper that reports no httptrace events
		return total
	}
	upload := total - time.Duration(h-1) // answered while the body was still being sent
	if w := c.wrote.Load(); w != 0 {
		upload = time.Duration(w - h)
	}
	return max(total-upload, 0)
}
