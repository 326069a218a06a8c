package authz

import (
	"errors"
	"log/slog"
	"strconv"

	"go.opentelemetry.io/otel/metric"
)

// Option configures an Authorizer (New), a Policy (Compile) or an
// authenticator (NewJWT, NewAPIKeys). Each option says which constructors it
// applies to; passing one to another constructor is an error from that
// constructor, never a silent drop.
type Option interface{ apply(*config) }

// target is the constructor an option is applied by.
type target uint8

const (
	forNew target = 1 << iota
	forCompile
	forJWT
	forAPIKeys
)

func (t target) String() string {
	switch t {
	case forNew:
		return "New"
	case forCompile:
		return "Compile"
	case forJWT:
		return "NewJWT"
	case forAPIKeys:
		return "NewAPIKeys"
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

	authorizer authorizerConfig // New
	policy     policyConfig     // Compile, and New's rules
	jwt        jwtConfig        // JWT
	apiKeys    apiKeyConfig     // APIKeys
}

// option is an Option that applies to the constructors in targets.
type option struct {
	name    string
	targets target
	fn      func(*config) error
}

func (o option) apply(c *config) {
	if o.targets&c.target == 0 {
		c.errs = append(c.errs, errors.New("authz: "+o.name+" does not apply to "+c.target.String()))
		return
	}
	if err := o.fn(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

// newOption returns an Option named name (such as "WithIssuer") that
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
			c.errs = append(c.errs, errors.New("authz: option "+strconv.Itoa(i)+" to "+t.String()+" is nil"))
			continue
		}
		o.apply(c)
	}
	return errors.Join(c.errs...)
}

// WithLogger sets the logger for New (denials, dry-run decisions, resolver
// outages) and NewJWT (key set refreshes). A nil logger, the default, is
// slog.Default() at the time of logging.
func WithLogger(l *slog.Logger) Option {
	return newOption("WithLogger", forNew|forJWT, func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithMeterProvider sets where New reports paved.authz.decisions. A nil
// provider, the default, is the global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return newOption("WithMeterProvider", forNew, func(c *config) error {
		c.meterProvider = mp
		return nil
	})
}

// logger returns the configured logger or, when none, slog.Default().
func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
