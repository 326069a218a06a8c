package telemetry_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"

	"github.com/paved-go/paved/tracing/telemetry"
)

func ExampleSetup() {
	// With no OTEL_EXPORTER_OTLP_* variables set, Setup stays local: spans
	// are recorded (so logs carry trace ids) but not exported.
	shutdown, err := telemetry.Setup(context.Background(), telemetry.WithServiceName("inventory"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shutdown(context.Background())

	_, span := otel.Tracer("example").Start(context.Background(), "reserve")
	defer span.End()
	fmt.Println("recording:", span.IsRecording(), "valid trace id:", span.SpanContext().TraceID().IsValid())
	// Output: recording: true valid trace id: true
}
