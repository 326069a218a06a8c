package overload

// throttleConfig holds NewThrottle's settings.
type throttleConfig struct{}
