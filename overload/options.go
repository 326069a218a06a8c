package overload

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/metric"
)

// Option configures a Bulkhead (NewBulkhead), a Limiter (NewLimiter), their
// middleware, or a client-side Throttle. Each option says which
// constructors it applies to; passing one to another constructor is an
// error from that constructor, never a silent drop.
type Option interface{ apply(*config) }

// target is the constructor an option is applied by.
type target uint8

const (
	forBulkhead target = 1 << iota
	forLimiter
	forMiddleware
	forThrottle
)

func (t target) String() string {
	switch t {
	case forBulkhead:
		return "NewBulkhead"
	case forLimiter:
		return "NewLimiter"
	case forMiddleware:
		return "Middleware"
	case forThrottle:
		return "NewThrottle"
	}
	return "?"
}

// config holds every constructor's settings; each constructor reads its
// own part. The parts are declared next to the constructors they serve.
type config struct {
	target target
	errs   []error

	logger        *slog.Logger         // nil: slog.Default(), read at each use
	meterProvider metric.MeterProvider // nil: the global provider
	dryRun        bool
	errorHandler  func(http.ResponseWriter, *http.Request, error)

	bulkhead bulkheadConfig // NewBulkhead
	limiter  limiterConfig  // NewLimiter
	throttle throttleConfig // NewThrottle (client side)
}

// option is an Option that applies to the constructors in targets.
type option struct {
	name    string
	targets target
	fn      func(*config) error
}

func (o option) apply(c *config) {
	if o.targets&c.target == 0 {
		c.errs = append(c.errs, errors.New("overload: "+o.name+" does not apply to "+c.target.String()))
		return
	}
	if err := o.fn(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

// newOption returns an Option named name (such as "WithQueue") that
// applies fn for the constructors in targets. An error from fn is reported
// by the constructor, with every other option's error.
func newOption(name string, targets target, fn func(*config) error) Option {
	return option{name: name, targets: targets, fn: fn}
}

// applyOptions applies opts for the constructor t on c, which holds that
// constructor's defaults, and returns every option's error at once.
func applyOptions(c *config, t target, opts []Option) error {
	c.target = t
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("overload: option "+strconv.Itoa(i)+" to "+t.String()+" is nil"))
			continue
		}
		o.apply(c)
	}
	return errors.Join(c.errs...)
}

// log returns the configured logger or, when none, slog.Default().
func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
