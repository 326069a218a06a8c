package overload

// bulkheadConfig holds NewBulkhead's settings.
type bulkheadConfig struct{}

// limiterConfig holds NewLimiter's settings.
type limiterConfig struct{}
