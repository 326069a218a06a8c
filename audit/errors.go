package audit

import (
	"net/http"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrUnavailable is the error of a call a FailClosed emitter refused
// because its event could not be queued or was not confirmed by every
// sink within the timeout. It maps to HTTP 503 and gRPC UNAVAILABLE.
var ErrUnavailable = httpx.NewError(http.StatusServiceUnavailable, "audit: event not confirmed")

// ErrDropped is what Emit returns when at least one sink's queue was full
// and the event was dropped for it (DropAndCount, or Block after the
// timeout). The drop is counted and announced in that sink by a drop
// marker.
var ErrDropped = httpx.NewError(http.StatusServiceUnavailable, "audit: event dropped")

// ErrClosed is what Emit returns after Close.
var ErrClosed = httpx.NewError(http.StatusServiceUnavailable, "audit: emitter closed")
