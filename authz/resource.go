package authz

import (
	"context"
	"errors"
	"strconv"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/cache"
)

// resolverSpec is a resolver as WithResolver gave it.
type resolverSpec struct {
	kind string
	fn   func(ctx context.Context, id string) (any, error)
}

// resolver looks up resources of one kind: through the cross-request
// cache when there is one, and always through the kind's circuit breaker.
type resolver struct {
	kind  string
	fn    func(ctx context.Context, id string) (any, error)
	brk   *breaker.Breaker
	cache *cache.Cache[string, any]
}

// resolvers are the resolvers by kind, and the lookup cap.
type resolvers struct {
	byKind map[string]*resolver
	max    int
}

func (rs *resolvers) get(kind string) *resolver {
	if rs == nil {
		return nil
	}
	return rs.byKind[kind]
}

// close releases the caches.
func (rs *resolvers) close() {
	if rs == nil {
		return
	}
	for _, r := range rs.byKind {
		if r.cache != nil {
			_ = r.cache.Close()
		}
	}
}

// newResolvers builds the resolvers of c, each with a breaker named
// "authz.resource.<kind>" and, with WithResolverCache, a cache of the same name.
func newResolvers(c *config) (*resolvers, error) {
	rs := &resolvers{byKind: make(map[string]*resolver, len(c.policy.resolvers)), max: c.policy.maxLookups}
	var errs []error
	for _, s := range c.policy.resolvers {
		name := "authz.resource." + s.kind
		brk, err := breaker.New(name,
			breaker.WithClassifier(func(ctx context.Context, err error) breaker.Outcome {
				if errors.Is(err, ErrNotFound) {
					return breaker.Success
				}
				return breaker.DefaultClassifier(ctx, err)
			}),
			breaker.WithLogger(c.logger),
			breaker.WithMeterProvider(c.meterProvider))
		if err != nil {
			errs = append(errs, errors.New("authz: WithResolver "+strconv.Quote(s.kind)+": "+err.Error()))
			continue
		}
		r := &resolver{kind: s.kind, fn: s.fn, brk: brk}
		if c.policy.cacheTTL > 0 {
			r.cache, err = cache.New[string, any](name, cache.WithTTL(c.policy.cacheTTL),
				cache.WithLogger(c.logger), cache.WithMeterProvider(c.meterProvider))
			if err != nil {
				errs = append(errs, errors.New("authz: WithResolverCache "+strconv.Quote(s.kind)+": "+err.Error()))
				continue
			}
		}
		rs.byKind[s.kind] = r
	}
	if len(errs) > 0 {
		rs.close()
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// load calls the resolver through the breaker; a nil resource is
// ErrNotFound.
func (r *resolver) load(ctx context.Context, id string) (any, error) {
	v, err := breaker.Call(ctx, r.brk, func(ctx context.Context) (any, error) {
		v, err := r.fn(ctx, id)
		if err == nil && v == nil {
			err = ErrNotFound
		}
		return v, err
	})
	return v, err
}

func (r *resolver) lookup(ctx context.Context, id string) (any, error) {
	if r.cache != nil {
		return r.cache.Get(ctx, id, r.load)
	}
	return r.load(ctx, id)
}

// lookupError is the error of one failed lookup: the kind, the id and the
// resolver's error. It reaches Decision.Errors and logs, never a client.
type lookupError struct {
	kind, id string
	err      error
}

func (e *lookupError) Error() string {
	return "resource " + strconv.Quote(e.kind) + " " + strconv.Quote(e.id) + ": " + e.err.Error()
}

func (e *lookupError) Unwrap() error { return e.err }

var errTooManyLookups = errors.New("authz: too many resource lookups (see WithMaxLookups)")

// lookup returns the resource kind/id from the memo, or from its
// resolver, counting lookups against the cap.
func (ev *evaluation) lookup(kind, id string) (any, error) {
	for i := range ev.memo {
		if m := &ev.memo[i]; m.kind == kind && m.id == id {
			return m.value, m.err
		}
	}
	r := ev.res.get(kind)
	if r == nil {
		return nil, errors.New("authz: no resolver for resource kind " + strconv.Quote(kind))
	}
	if ev.lookups >= ev.res.max {
		return nil, errTooManyLookups
	}
	ev.lookups++
	v, err := r.lookup(ev.ec.Context, id)
	if err != nil {
		if !errors.Is(err, ErrNotFound) && ev.outage == nil {
			ev.outage = err
		}
		err = &lookupError{kind: kind, id: id, err: err}
		v = nil
	}
	ev.memo = append(ev.memo, memo{kind: kind, id: id, value: v, err: err})
	return v, err
}

// found returns the resources the evaluation found, for the handler.
func (ev *evaluation) found() []memo {
	n := 0
	for i := range ev.memo {
		if ev.memo[i].err == nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]memo, 0, n)
	for _, m := range ev.memo {
		if m.err == nil {
			out = append(out, memo{kind: m.kind, id: m.id, value: m.value})
		}
	}
	return out
}

// authzCtx is the context the middleware hands to the handler: the
// request's, plus the principal and the resources the decision looked up,
// in one allocation.
type authzCtx struct {
	context.Context
	p         *Principal
	resources []memo
}

type resourcesKey struct{}

func (c *authzCtx) Value(key any) any {
	switch key.(type) {
	case principalKey:
		if c.p != nil {
			return c.p
		}
	case resourcesKey:
		return c
	}
	return c.Context.Value(key)
}

// Resource returns the resource of the kind and id that authorization
// looked up with resource() for the request of ctx, so the handler acts
// on the very object the decision was about instead of fetching it again.
// ok is false when the decision did not look it up (or it was not found).
func Resource(ctx context.Context, kind, id string) (v any, ok bool) {
	c, _ := ctx.Value(resourcesKey{}).(*authzCtx)
	if c == nil {
		return nil, false
	}
	for _, m := range c.resources {
		if m.kind == kind && m.id == id {
			return m.value, true
		}
	}
	return nil, false
}
