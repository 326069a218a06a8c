package faults

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-go/paved/internal/httpx"
)

// Option configures an Injector (New).
type Option interface{ apply(*config) error }

type config struct {
	logger        *slog.Logger         // nil: slog.Default(), read at each use
	meterProvider metric.MeterProvider // nil: the global provider
	src           rand.Source          // nil: math/rand/v2's global source
	errorHandler  func(http.ResponseWriter, *http.Request, error)
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithLogger logs rule changes (Warn) and each injected fault (Info) to
// l. The default, and a nil l, is slog.Default() at the time of logging.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error { c.logger = l; return nil })
}

// WithMeterProvider records paved.faults.injected with mp. The default,
// and a nil mp, is the global MeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) error { c.meterProvider = mp; return nil })
}

// WithRand draws the percentage and jitter of every rule from src, so a
// test sees the same faults on every run: faults.WithRand(rand.NewPCG(1, 2)).
// Draws are serialized, as a Source need not be safe for concurrent use.
// The default is math/rand/v2's global source. A nil src is an error.
func WithRand(src rand.Source) Option {
	return optionFunc(func(c *config) error {
		if src == nil {
			return errors.New("faults: WithRand: nil source")
		}
		c.src = src
		return nil
	})
}

// WithErrorHandler replaces how the middleware answers an injected error,
// and a request whose context ended during an injected delay: the error
// is an *InjectedError or the context's error. The default, and a nil h,
// is problem+json with the error's status (paved.WriteError). The
// Paved-Fault header is set before h is called.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return optionFunc(func(c *config) error { c.errorHandler = h; return nil })
}

func newConfig(opts []Option) (config, error) {
	var c config
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, errors.New("faults: option "+strconv.Itoa(i)+" is nil"))
			continue
		}
		if err := o.apply(&c); err != nil {
			errs = append(errs, err)
		}
	}
	if c.errorHandler == nil {
		c.errorHandler = httpx.WriteError
	}
	return c, errors.Join(errs...)
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
