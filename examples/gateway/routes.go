package main

import (
	"fmt"
	"net/http"
)

// problemRoutes serves mux, answering requests that match no route with
// problem+json (404, or 405 with Allow) instead of ServeMux's plain text.
// Matched requests go through mux.ServeHTTP, so handlers and middleware see
// r.Pattern and path values as usual.
func problemRoutes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&problemWriter{ResponseWriter: w, r: r}, r)
	})
}

// problemWriter turns ServeMux's own 404 and 405 answers into problem+json;
// anything else it sends (a redirect to a cleaned path) passes through.
type problemWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (pw *problemWriter) WriteHeader(code int) {
	var detail string
	switch code {
	case http.StatusNotFound:
		detail = fmt.Sprintf("no route for %s %s", pw.r.Method, pw.r.URL.Path)
	case http.StatusMethodNotAllowed:
		detail = fmt.Sprintf("method %s is not allowed for %s; allowed: %s", pw.r.Method, pw.r.URL.Path, pw.Header().Get("Allow"))
	default:
		pw.ResponseWriter.WriteHeader(code)
		return
	}
	pw.replaced = true
	writeProblem(pw.ResponseWriter, pw.r, code, detail)
}

func (pw *problemWriter) Write(p []byte) (int, error) {
	if pw.replaced {
		return len(p), nil // ServeMux's plain-text body, already replaced
	}
	return pw.ResponseWriter.Write(p)
}
