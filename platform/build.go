package platform

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/paved-go/paved/tracing"
)

// build compiles every operation and assembles the mux. Problems go to
// b; the returned Platform holds what was built, for Close.
func (b *builder) build() *Platform {
	p := &Platform{doc: b.doc}
	acc := newAccess(b)
	lim := newLimits(b)
	tr := newTrail(b)
	type chain struct {
		timeout time.Duration
		cache   func(http.Handler) http.Handler
		idem    func(http.Handler) http.Handler
		extra   []func(http.Handler) http.Handler
	}
	chains := map[*operation]*chain{}
	sections := make([]string, 0, len(b.c.sections))
	for name := range b.c.sections {
		sections = append(sections, name)
	}
	sort.Strings(sections)
	for _, op := range b.ops {
		ch := &chain{}
		chains[op] = ch
		acc.compile(op)
		lim.compile(op)
		tr.compile(op)
		ch.timeout = b.timeout(op)
		ch.cache = b.responseCache(op, ch.timeout)
		ch.idem = b.idempotency(op)
		if h, ok := b.c.handlers[op.ID]; ok && op.ID != "" {
			op.handler = h
		} else if px := b.proxy(op); px != nil {
			op.handler = px
		} else if _, up := op.section("upstream"); !up && op.ID != "" {
			b.add(op.Pointer, "no handler for operation "+strconv.Quote(op.ID)+" (platform.WithHandler) and no x-platform upstream to proxy to")
		}
		for _, name := range sections {
			v, ok := op.section(name)
			if !ok || op.bad[name] {
				continue
			}
			mw, err := compileSection(b.c.sections[name], &op.Operation, v)
			if err != nil {
				b.sectionProblems(op, name, err)
				continue
			}
			if mw != nil {
				ch.extra = append(ch.extra, mw)
			}
		}
	}
	az := acc.build()
	if az != nil {
		p.closers = append(p.closers, func(context.Context) error { return az.Close() })
	}
	lim.build()
	tr.build()
	p.closers = append(p.closers, tr.close)
	p.closers = append(p.closers, b.closers...)
	if len(b.problems) > 0 {
		return p
	}
	mux := http.NewServeMux()
	var patterns []string
	for _, op := range b.ops {
		ch := chains[op]
		h := op.handler
		if ch.timeout > 0 {
			h = withTimeout(ch.timeout)(h)
		}
		if ch.cache != nil {
			h = ch.cache(h)
		}
		for i := len(ch.extra) - 1; i >= 0; i-- {
			h = ch.extra[i](h)
		}
		if ch.idem != nil {
			h = ch.idem(h)
		}
		if acc.guarded[op] {
			h = az.Middleware(h)
		}
		if b.c.validate {
			h = b.validator(op)(h)
		}
		if mw := lim.middleware(op); mw != nil {
			h = mw(h)
		}
		if mw := acc.authn[op]; mw != nil {
			h = mw(h)
		}
		if mw := tr.middleware(op); mw != nil {
			h = mw(h)
		}
		if err := register(mux, op.Pattern, h); err != nil {
			b.add(pointer("", "paths", op.Path), err.Error())
			continue
		}
		patterns = append(patterns, op.Pattern)
		p.routes = append(p.routes, Route{Operation: op.Operation, Handler: h})
	}
	if az != nil {
		if err := az.Check(patterns...); err != nil {
			b.add("", err.Error())
		}
	}
	t := b.c.tracer
	if t == nil {
		t = tracing.Default()
	}
	p.handler = t.Middleware(mux)
	return p
}

// register adds a route, turning ServeMux's panic on a conflicting
// pattern into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("http.ServeMux: %v", r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// compileSection calls a section compiler, turning a panic into an error.
func compileSection(sc SectionCompiler, op *Operation, v any) (mw func(http.Handler) http.Handler, err error) {
	defer func() {
		if r := recover(); r != nil {
			mw, err = nil, fmt.Errorf("section compiler panicked: %v", r)
		}
	}()
	return sc.Compile(op, v)
}

// sectionProblems reports a section compiler's error: a *LoadError's
// problems below the section, anything else at the section.
func (b *builder) sectionProblems(op *operation, name string, err error) {
	base := "/" + escapeToken(name)
	if le, ok := err.(*LoadError); ok {
		for _, pr := range le.Problems {
			b.add(op.at(base+pr.Pointer), pr.Message)
		}
		return
	}
	b.add(op.at(base), err.Error())
}
