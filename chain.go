package paved

import "net/http"

// Chain composes middleware into one. The first listed is the outermost:
// Chain(a, b, c)(h) serves a request through a, then b, then c, then h,
// exactly like a(b(c(h))). Nil entries are skipped, so optional middleware
// can be listed unconditionally. Chain with no middleware returns h as is.
func Chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	mws = append([]func(http.Handler) http.Handler(nil), mws...) // later edits of the caller's slice do not leak in
	return func(h http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				h = mws[i](h)
			}
		}
		return h
	}
}
