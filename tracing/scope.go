package tracing

import "github.com/paved-go/paved/internal/otelx"

// ScopeName is the instrumentation scope of paved's meters and tracers.
const ScopeName = otelx.ScopeName
