package tracing

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/term"
)

// Log attribute keys NewHandler adds.
const (
	LogKeyTraceID       = "trace_id"
	LogKeySpanID        = "span_id"
	LogKeyCorrelationID = "correlation_id"
)

// NewHandler returns a slog.Handler that adds trace_id, span_id (when the
// context has a valid span context) and correlation_id (when it has a
// correlation id) to every record and passes it to h. Use the logger's
// Context methods (InfoContext, LogAttrs) so the ids can be found. Like any
// record attribute, the ids land inside groups opened with WithGroup.
func NewHandler(h slog.Handler) slog.Handler {
	if th, ok := h.(*handler); ok {
		return th
	}
	return &handler{inner: h}
}

type handler struct {
	inner slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	id := CorrelationID(ctx)
	if !sc.IsValid() && id == "" {
		return h.inner.Handle(ctx, r)
	}
	// Clone does not allocate; it makes AddAttrs below safe for records
	// whose attribute slice the caller still shares.
	r = r.Clone()
	switch {
	case sc.IsValid() && id != "":
		tid, sid := traceIDs(sc)
		r.AddAttrs(slog.String(LogKeyTraceID, tid), slog.String(LogKeySpanID, sid), slog.String(LogKeyCorrelationID, id))
	case sc.IsValid():
		tid, sid := traceIDs(sc)
		r.AddAttrs(slog.String(LogKeyTraceID, tid), slog.String(LogKeySpanID, sid))
	default:
		r.AddAttrs(slog.String(LogKeyCorrelationID, id))
	}
	return h.inner.Handle(ctx, r)
}

// traceIDs formats both ids with one allocation.
func traceIDs(sc trace.SpanContext) (traceID, spanID string) {
	var buf [48]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(buf[:32], tid[:])
	hex.Encode(buf[32:], sid[:])
	s := string(buf[:])
	return s[:32], s[32:]
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name)}
}

// NewConsoleLogger returns a logger for development: human-readable lines
// (tint), coloured only when w is a terminal, with trace and correlation
// ids (NewHandler), at Info level.
func NewConsoleLogger(w io.Writer) *slog.Logger {
	return slog.New(NewHandler(tint.NewTextHandler(w, &tint.Options{
		TimeFormat: time.TimeOnly,
		NoColor:    !IsTerminal(w),
	})))
}

// NewJSONLogger returns a logger for production: one JSON object per line
// with trace and correlation ids (NewHandler), at Info level.
func NewJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(NewHandler(slog.NewJSONHandler(w, nil)))
}

// NewLogger returns NewConsoleLogger(w) when w is a terminal and
// NewJSONLogger(w) otherwise (a file, a pipe, a log collector).
func NewLogger(w io.Writer) *slog.Logger {
	if IsTerminal(w) {
		return NewConsoleLogger(w)
	}
	return NewJSONLogger(w)
}

// IsTerminal reports whether w is an *os.File connected to a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
