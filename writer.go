package paved

import (
	"net/http"

	"github.com/paved-go/paved/internal/httpx"
)

// ResponseWriter is an http.ResponseWriter that records what a handler
// sent, for access logs, metrics and middleware that acts on the outcome.
// It is the recorder every paved middleware uses, so a stack of them
// shares one instead of wrapping the writer once each.
//
// Its methods:
//
//	Status() int          the final status sent; 200 before any header,
//	                      which is what net/http sends for a handler that
//	                      returns without writing
//	WroteHeader() bool    whether the final (non-1xx) header was sent
//	BytesWritten() int64  body bytes written so far
//	Unwrap() http.ResponseWriter
//
// It keeps what the writer underneath can do: http.ResponseController
// reaches it through Unwrap (SetWriteDeadline, EnableFullDuplex), and
// Flush (with FlushError), Hijack and ReadFrom pass through, so streaming,
// protocol upgrades and sendfile work behind it; Hijack and Flush return
// an error wrapping http.ErrNotSupported where the writer underneath
// cannot. Informational responses pass through without ending the header
// phase: WriteHeader(103) sends early hints, as many as the handler likes,
// and is not recorded as the status. After the final status, further
// WriteHeader calls are dropped, so Status is always what the client saw.
// A hijacked connection is recorded as 101.
//
// Like the writer it wraps, a ResponseWriter is used by one handler
// goroutine at a time.
type ResponseWriter = httpx.ResponseWriter

// NewResponseWriter returns a ResponseWriter recording w. When w already
// is one, it is returned as is, so stacked middleware share one record
// and allocate once per request.
//
//	rw := paved.NewResponseWriter(w)
//	next.ServeHTTP(rw, r)
//	logger.Info("request", "status", rw.Status(), "bytes", rw.BytesWritten())
func NewResponseWriter(w http.ResponseWriter) *ResponseWriter { return httpx.Wrap(w) }
