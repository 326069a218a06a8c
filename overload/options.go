package overload

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-go/paved/internal/httpx"
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
	errorHandler  func(http.ResponseWriter, *http.Request, error) // nil: httpx.WriteError
	filter        func(*http.Request) bool
	queue         int
	maxWait       time.Duration
	retryAfter    time.Duration

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

// newConfig returns the defaults every constructor starts from.
func newConfig() config {
	return config{retryAfter: DefaultRetryAfter}
}

// httpHandling is what a Middleware needs from the options.
type httpHandling struct {
	filter  func(*http.Request) bool
	onError func(http.ResponseWriter, *http.Request, error)
}

func (c *config) httpHandling() httpHandling {
	h := httpHandling{filter: c.filter, onError: c.errorHandler}
	if h.onError == nil {
		h.onError = httpx.WriteError
	}
	return h
}

// WithQueue lets up to n calls wait for a slot when the bulkhead or
// limiter is full, instead of being shed at once. A bulkhead's queue is
// FIFO; a limiter's is LIFO (the freshest call is worth the most under
// overload) and, when full, sheds its oldest call of the lowest class to
// make room. The default is 0: no queue.
func WithQueue(n int) Option {
	return newOption("WithQueue", forBulkhead|forLimiter, func(c *config) error {
		if n < 0 {
			return errors.New("overload: WithQueue: negative size " + strconv.Itoa(n))
		}
		c.queue = n
		return nil
	})
}

// WithMaxWait bounds how long a call waits in the queue before it is shed.
// The default, 0, lets the call's context alone bound the wait.
func WithMaxWait(d time.Duration) Option {
	return newOption("WithMaxWait", forBulkhead|forLimiter, func(c *config) error {
		if d < 0 {
			return errors.New("overload: WithMaxWait: negative duration " + d.String())
		}
		c.maxWait = d
		return nil
	})
}

// WithRetryAfter sets the retry delay shed calls carry (Retry-After,
// google.rpc.RetryInfo). The default is DefaultRetryAfter, one second.
func WithRetryAfter(d time.Duration) Option {
	return newOption("WithRetryAfter", forBulkhead|forLimiter, func(c *config) error {
		if d <= 0 {
			return errors.New("overload: WithRetryAfter: duration must be positive, got " + d.String())
		}
		c.retryAfter = d
		return nil
	})
}

// WithDryRun, when on, admits every call but counts and logs (at Info) the
// ones that would have been shed, to size a limit before enforcing it.
func WithDryRun(on bool) Option {
	return newOption("WithDryRun", forBulkhead|forLimiter, func(c *config) error {
		c.dryRun = on
		return nil
	})
}

// WithErrorHandler sets how Middleware answers a shed request (the error
// is a *ShedError) or one whose context ended while queued. The default
// is httpx.WriteError (paved.WriteError): a 503 problem+json with
// Retry-After.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return newOption("WithErrorHandler", forBulkhead|forLimiter, func(c *config) error {
		c.errorHandler = h
		return nil
	})
}

// WithFilter makes Middleware pass the requests for which f returns false
// straight to the next handler, outside any limit (health checks, say).
func WithFilter(f func(*http.Request) bool) Option {
	return newOption("WithFilter", forBulkhead|forLimiter, func(c *config) error {
		c.filter = f
		return nil
	})
}

// WithLogger sets the logger for shed calls (Debug) and dry-run decisions
// (Info). A nil logger, the default, is slog.Default() at the time of
// logging.
func WithLogger(l *slog.Logger) Option {
	return newOption("WithLogger", forBulkhead|forLimiter|forThrottle, func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithMeterProvider sets where paved.overload.decisions and
// paved.overload.limit are reported. A nil provider, the default, is the
// global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return newOption("WithMeterProvider", forBulkhead|forLimiter|forThrottle, func(c *config) error {
		c.meterProvider = mp
		return nil
	})
}
