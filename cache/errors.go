package cache

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrNotFound is the error a loader returns for a key that does not
// exist. With WithNegativeCache it is cached like a value. It maps to
// HTTP 404.
var ErrNotFound = httpx.NewError(http.StatusNotFound, "cache: not found")

// ErrClosed is returned by a Get that needs a load after Close. It maps
// to HTTP 503.
var ErrClosed = httpx.NewError(http.StatusServiceUnavailable, "cache: closed")

// PanicError is the error every caller waiting for a load gets when the
// loader panicked (or called runtime.Goexit). The panic is logged at Error
// with its stack; the process keeps running.
type PanicError struct {
	Value any    // what the loader panicked with; nil after runtime.Goexit
	Stack []byte // the loader's stack at the panic
}

// Error reports the panic value.
func (e *PanicError) Error() string {
	if e.Value == nil {
		return "cache: loader exited without returning (runtime.Goexit)"
	}
	return fmt.Sprintf("cache: loader panicked: %v", e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// timeoutError is what waiters get when a load outlives WithLoadTimeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return "cache: load did not finish within " + e.d.String() }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }
