package audit

import (
	"context"
	"encoding/json"
	"log/slog"
)

// SlogMessage is the message of every record NewSlogSink writes.
const SlogMessage = "audit event"

// NewSlogSink returns a sink named "slog" that writes each event as one
// Info record with the message SlogMessage and the attributes id, type,
// source, time, sequence and subject, and the data as "data": a JSON
// object with a JSON handler (tracing.NewJSONLogger, for production),
// its JSON text with a text or tint handler (tracing.NewConsoleLogger,
// for development). A nil logger is slog.Default() at the time of
// writing. Write never fails: a logger cannot say whether it stored a
// record, so this sink suits consoles and log pipelines, not an audit
// trail that must not lose events (FileSink).
func NewSlogSink(logger *slog.Logger) Sink { return &slogSink{logger: logger} }

type slogSink struct{ logger *slog.Logger }

func (s *slogSink) Name() string { return "slog" }

func (s *slogSink) Write(ctx context.Context, batch []*Event) error {
	l := s.logger
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	for _, ev := range batch {
		data, err := json.Marshal(&ev.Data)
		if err != nil {
			return err
		}
		attrs := [...]slog.Attr{
			slog.String("id", ev.ID),
			slog.String("type", ev.Type),
			slog.String("source", ev.Source),
			slog.Time("time", ev.Time),
			slog.String("sequence", ev.Sequence),
			slog.String("subject", ev.Subject),
			slog.Any("data", rawJSON(data)),
		}
		n := len(attrs)
		if ev.Subject == "" {
			attrs[5], attrs[6] = attrs[6], slog.Attr{}
			n--
		}
		l.LogAttrs(ctx, slog.LevelInfo, SlogMessage, attrs[:n]...)
	}
	return nil
}

func (s *slogSink) Close(context.Context) error { return nil }

// rawJSON is embedded as is by JSON handlers and printed as text by the
// others.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }
func (r rawJSON) String() string               { return string(r) }
