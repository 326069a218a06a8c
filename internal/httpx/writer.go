package httpx

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// ResponseWriter wraps an http.ResponseWriter and records the status code,
// the number of body bytes written and whether the header has been sent.
//
// It keeps the optional interfaces working: Unwrap lets
// http.ResponseController reach the underlying writer (SetWriteDeadline,
// EnableFullDuplex, ...), and Flush (with FlushError), Hijack and ReadFrom
// are passed through so streaming, WebSocket upgrades and sendfile keep
// working behind middleware. A ResponseWriter is used by one handler goroutine, like the
// writer it wraps.
type ResponseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// Wrap returns a ResponseWriter recording w. If w already is a
// *ResponseWriter it is returned as is, so stacked middleware share one
// record instead of allocating one each.
func Wrap(w http.ResponseWriter) *ResponseWriter {
	if rw, ok := w.(*ResponseWriter); ok {
		return rw
	}
	return &ResponseWriter{ResponseWriter: w}
}

// Status reports the status code sent to the client. Before any header is
// sent it reports 200, which is what net/http sends for a handler that
// returns without writing.
func (w *ResponseWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// BytesWritten reports the number of body bytes written so far.
func (w *ResponseWriter) BytesWritten() int64 { return w.bytes }

// WroteHeader reports whether the final (non-1xx) header has been sent.
func (w *ResponseWriter) WroteHeader() bool { return w.wroteHeader }

// WriteHeader sends the header. Informational 1xx codes other than 101 are
// passed through without ending the header phase, as net/http does. A
// second final WriteHeader is dropped (net/http would only log it), so the
// recorded status is always the one the client saw.
func (w *ResponseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(code)
}

// Write writes body bytes, sending an implicit 200 header first if none was
// sent.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom copies from r using the underlying writer's io.ReaderFrom when it
// has one (net/http's uses sendfile for files).
func (w *ResponseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		// Called directly: io.Copy would prefer r's WriteTo (a
		// strings.Reader, a bytes.Buffer), bypassing sendfile underneath.
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.bytes += n
	return n, err
}

// Flush sends any buffered data to the client, through every wrapper
// underneath. Like net/http, flushing before a header was written sends an
// implicit 200.
func (w *ResponseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush that reports failure: an error wrapping
// http.ErrNotSupported when the writer underneath cannot flush, or the
// write error when the client is gone. http.ResponseController.Flush uses
// it, so it reports through the wrapper what it reports without it.
func (w *ResponseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack lets the caller take over the connection, when the underlying
// writer supports it; otherwise it returns an error wrapping
// http.ErrNotSupported. A hijacked response is recorded as 101.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wroteHeader {
		w.status = http.StatusSwitchingProtocols
		w.wroteHeader = true
	}
	return conn, brw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
