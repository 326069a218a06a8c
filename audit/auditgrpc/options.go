package auditgrpc

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/paved-go/paved/audit"
)

// Option configures the interceptors (New). A bad option is an error
// from New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	def     audit.Route
	methods []method
	filter  func(ctx context.Context, fullMethod string) bool
	errs    []error
}

type method struct {
	name  string
	route audit.Route
}

func newConfig(opts []Option) (config, error) {
	c := config{def: audit.Route{Level: audit.Metadata}}
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("auditgrpc: option "+strconv.Itoa(i)+" is nil"))
			continue
		}
		o.apply(&c)
	}
	return c, errors.Join(c.errs...)
}

func checkRoute(where string, r audit.Route) error {
	if r.Level > audit.RequestResponse {
		return errors.New("auditgrpc: " + where + ": unknown level " + r.Level.String())
	}
	if len(r.Fields) > 0 {
		return errors.New("auditgrpc: " + where + ": Fields are not supported for gRPC calls")
	}
	return nil
}

// WithDefault sets the policy of methods WithMethod does not name
// (default: Metadata, with audit.DefaultType). Only Level and Type apply:
// Request and RequestResponse record what Metadata does, as messages
// are not recorded, and Fields are an error.
func WithDefault(r audit.Route) Option {
	return optionFunc(func(c *config) {
		if err := checkRoute("WithDefault", r); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		if r.Level == 0 {
			r.Level = audit.Metadata
		}
		c.def = r
	})
}

// WithMethod gives calls of one method, or of every method of a service,
// their own policy. name is a full method ("/pkg.Instances/Launch") or a
// service followed by a slash ("/pkg.Instances/"); a full method's policy
// wins over its service's. Level None skips the calls (health checks).
// Only Level and Type apply, as for WithDefault.
func WithMethod(name string, r audit.Route) Option {
	return optionFunc(func(c *config) {
		if !strings.HasPrefix(name, "/") || strings.Count(name, "/") != 2 {
			c.errs = append(c.errs, errors.New("auditgrpc: WithMethod: "+strconv.Quote(name)+" is neither /service/method nor /service/"))
			return
		}
		if err := checkRoute("WithMethod "+name, r); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.methods = append(c.methods, method{name, r})
	})
}

// WithFilter skips calls for which keep returns false: no event is
// written for them. A nil keep is an error.
func WithFilter(keep func(ctx context.Context, fullMethod string) bool) Option {
	return optionFunc(func(c *config) {
		if keep == nil {
			c.errs = append(c.errs, errors.New("auditgrpc: WithFilter: nil function"))
			return
		}
		c.filter = keep
	})
}
