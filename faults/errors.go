package faults

import (
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// InjectedError is the error of an injected fault, so a caller (and a
// person reading its message, which starts "faults: injected") can tell
// it from a real one: errors.As(err, new(*faults.InjectedError)). A
// transport's reset unwraps to syscall.ECONNRESET (inside a *net.OpError,
// as a real reset does) and an aborted body's read error to
// io.ErrUnexpectedEOF; gRPC errors of package faultsgrpc unwrap to it.
type InjectedError struct {
	Rule   string // the rule's name
	Kind   string // "error", "reset" or "abort"
	Status int    // the HTTP status of an error rule, else 0
	Err    error  // what the fault imitates, or nil
}

// Error returns "faults: injected <kind> (rule <name>)", followed by the
// imitated error's message, if any.
func (e *InjectedError) Error() string {
	s := "faults: injected " + e.Kind + " (rule " + e.Rule + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the error the fault imitates.
func (e *InjectedError) Unwrap() error { return e.Err }

// HTTPStatus reports the status a handler answers the error with: the
// rule's status for an injected error, 502 Bad Gateway for a reset or an
// aborted response (an upstream failed), so retry retries it.
func (e *InjectedError) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return http.StatusBadGateway
}

func resetError(rule string) *InjectedError {
	return &InjectedError{Rule: rule, Kind: KindReset,
		Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
}

func abortError(rule string) *InjectedError {
	return &InjectedError{Rule: rule, Kind: KindAbort, Err: io.ErrUnexpectedEOF}
}
