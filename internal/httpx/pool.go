package httpx

import (
	"net/http"
	"sync"
)

var writers = sync.Pool{New: func() any { return new(ResponseWriter) }}

// Acquire is Wrap for middleware on a hot path: when w is not already a
// *ResponseWriter it takes one from a pool instead of allocating, and
// reports owned, meaning the caller must give it back with Release once
// the handler it wrapped has returned (and not if it panicked, when
// whoever recovers may still hold it).
func Acquire(w http.ResponseWriter) (rw *ResponseWriter, owned bool) {
	if rw, ok := w.(*ResponseWriter); ok {
		return rw, false
	}
	rw = writers.Get().(*ResponseWriter)
	rw.ResponseWriter = w
	return rw, true
}

// Release returns a ResponseWriter from Acquire to the pool. Neither the
// caller nor the handler may use it afterwards, which net/http already
// asks of a handler's ResponseWriter once ServeHTTP returned.
func Release(rw *ResponseWriter) {
	*rw = ResponseWriter{}
	writers.Put(rw)
}
