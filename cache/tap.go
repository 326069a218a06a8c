package cache

import (
	"net/http"
	"slices"
	"sync"
)

// A tap connects a load's recorder, in the load's goroutine, to the
// ResponseWriter of the request that started the load, which waits for
// it meanwhile: interim (1xx) responses and a body past WithMaxBodyBytes
// reach that client through it, as the handler writes them. Once the
// request stops waiting (detach), the tap drops whatever still comes.
// A nil tap (a background refresh) drops everything.
type tap struct {
	rc       *ResponseCache
	mu       sync.Mutex
	w        http.ResponseWriter // nil once detached
	streamed bool                // the final response went through w
	status   string              // our Cache-Status member for a streamed response
	header   http.Header         // the handler's fields as forwarded to this client
}

// interim sends a 1xx response with the fields h holds now, leaving the
// client's header map as it was, for the final response.
func (t *tap) interim(h http.Header, code int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil || t.streamed {
		return
	}
	dst := t.w.Header()
	fields := t.rc.forwardHeader(h)
	saved := make(http.Header, len(fields))
	for k, v := range fields {
		if old, ok := dst[k]; ok {
			saved[k] = old
		}
		dst[k] = v
	}
	t.w.WriteHeader(code)
	for k := range fields {
		if old, ok := saved[k]; ok {
			dst[k] = old
		} else {
			delete(dst, k)
		}
	}
}

// start sends the response's header and the body buffered so far.
func (t *tap) start(h http.Header, status int, body []byte) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil {
		return
	}
	t.streamed = true
	dst := t.w.Header()
	fields := t.rc.forwardHeader(h)
	for k, v := range fields {
		dst[k] = v
	}
	if t.status != "" {
		dst["Cache-Status"] = append(slices.Clip(fields["Cache-Status"]), t.status)
	}
	t.w.WriteHeader(status)
	_, _ = t.w.Write(body)
}

func (t *tap) body(p []byte) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil && t.streamed {
		_, _ = t.w.Write(p)
	}
}

func (t *tap) flush() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil && t.streamed {
		_ = http.NewResponseController(t.w).Flush()
	}
}

// setHeader records the handler's fields for the waiting request.
func (t *tap) setHeader(h http.Header) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.header = h
	t.mu.Unlock()
}

// detach stops the tap and reports whether the response was streamed.
func (t *tap) detach() (streamed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w = nil
	return t.streamed
}
