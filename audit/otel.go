package audit

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/global"

	"github.com/paved-go/paved/internal/otelx"
)

// NewOTelSink returns a sink named "otel" that emits each event as an
// OpenTelemetry log record through provider (nil: the global
// LoggerProvider), so an OTLP collector receives the audit trail: event
// name the event's type, severity Info, timestamp its time, body its
// structured JSON, and the attributes cloudevents.event_id,
// cloudevents.event_source, cloudevents.event_type,
// cloudevents.event_spec_version, cloudevents.event_subject and
// paved.audit.sequence.
//
// It is best effort, as OpenTelemetry logs are: a provider may sample or
// shed records, and its batch processor may drop them on export without
// telling the sink. What the sink can see is counted: when the logger is
// disabled for audit records the Write fails, and the events count as
// failed (paved.audit.events{result=failed}). Use a FileSink for a trail
// that must not lose events.
func NewOTelSink(provider log.LoggerProvider) Sink {
	if provider == nil {
		provider = global.GetLoggerProvider()
	}
	return &otelSink{logger: provider.Logger(otelx.ScopeName)}
}

type otelSink struct{ logger log.Logger }

var errOTelDisabled = errors.New("audit: the OpenTelemetry logger is disabled for audit records")

func (s *otelSink) Name() string { return "otel" }

func (s *otelSink) Write(ctx context.Context, batch []*Event) error {
	for _, ev := range batch {
		if !s.logger.Enabled(ctx, log.EnabledParameters{Severity: log.SeverityInfo, EventName: ev.Type}) {
			return errOTelDisabled
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		var r log.Record
		r.SetEventName(ev.Type)
		r.SetTimestamp(ev.Time)
		r.SetSeverity(log.SeverityInfo)
		r.SetSeverityText("INFO")
		r.SetBody(attribute.StringValue(string(b)))
		r.AddAttributes(
			attribute.String("cloudevents.event_id", ev.ID),
			attribute.String("cloudevents.event_source", ev.Source),
			attribute.String("cloudevents.event_type", ev.Type),
			attribute.String("cloudevents.event_spec_version", ev.SpecVersion),
		)
		if ev.Subject != "" {
			r.AddAttributes(attribute.String("cloudevents.event_subject", ev.Subject))
		}
		if seq, err := strconv.ParseInt(ev.Sequence, 10, 64); err == nil {
			r.AddAttributes(attribute.Int64("paved.audit.sequence", seq))
		}
		s.logger.Emit(ctx, r)
	}
	return nil
}

func (s *otelSink) Close(context.Context) error { return nil }
