package overload

// limiterConfig holds NewLimiter's settings.
type limiterConfig struct{}
