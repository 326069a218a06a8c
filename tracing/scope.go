package tracing

// ScopeName is the instrumentation scope of paved's meters and tracers.
const ScopeName = "github.com/paved-go/paved"
