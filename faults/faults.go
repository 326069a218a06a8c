package faults

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/registry"
)

// Injector holds the fault rules that its middleware, transport and gRPC
// interceptors (package faultsgrpc) apply. It starts with none, injecting
// nothing, until Set is called or a POST reaches its control endpoint
// (ServeHTTP). It is safe for concurrent use; a rule change takes effect
// for the requests that start after it.
type Injector struct {
	name    string
	cfg     config
	rules   atomic.Pointer[ruleSet] // nil: off
	metric  *otelx.FaultsCounter
	randMu  sync.Mutex
	total   atomic.Uint64
	rate    *registry.PerMinute
	control sync.Mutex // orders rule changes, so their logs come in order
}

// ruleSet is one Set's rules, compiled.
type ruleSet struct {
	rules     []*compiled
	principal bool // some rule matches by principal
}

type compiled struct {
	Rule
	kind      string
	always    bool
	threshold uint64
	header    string // canonical header name, or ""
	mdHeader  string // lower-case header name for gRPC metadata
	hdrValue  string
	hdrAny    bool // the header matches with any value
	attrs     *otelx.FaultAttrs
	injected  atomic.Uint64
}

// New returns an Injector named name (in logs, metrics and the status
// page; an empty name keeps it off the status page) with no rules. Every
// option's error is returned at once.
func New(name string, opts ...Option) (*Injector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	m, err := otelx.FaultsInjected(cfg.meterProvider, name)
	if err != nil {
		return nil, errors.New("faults: " + err.Error())
	}
	inj := &Injector{name: name, cfg: cfg, metric: m, rate: registry.NewPerMinute(time.Now())}
	registry.Add(registry.KindFaults, name, inj, report)
	return inj, nil
}

// Set replaces the rules with rules, after checking them all: a rule
// that is not valid is an error naming it, and the rules in force stay.
// Set with no rules is Clear. The change is logged at Warn.
func (inj *Injector) Set(rules ...Rule) error {
	if inj == nil {
		return errors.New("faults: Set on a nil *Injector")
	}
	if len(rules) == 0 {
		inj.Clear()
		return nil
	}
	if err := validate(rules); err != nil {
		return err
	}
	rs := &ruleSet{rules: make([]*compiled, len(rules))}
	for i, r := range rules {
		c := &compiled{Rule: r, kind: r.Kind(), always: r.Percent >= 100, threshold: percentThreshold(r.Percent)}
		if r.Match.Header != "" {
			name, value, hasValue := splitHeader(r.Match.Header)
			c.header, c.mdHeader, c.hdrValue, c.hdrAny = http.CanonicalHeaderKey(name), strings.ToLower(name), value, !hasValue
		}
		c.attrs = inj.metric.Attrs(r.Name, c.kind)
		rs.principal = rs.principal || r.Match.Principal != ""
		rs.rules[i] = c
	}
	inj.control.Lock()
	defer inj.control.Unlock()
	inj.rules.Store(rs)
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	inj.cfg.log().LogAttrs(context.Background(), slog.LevelWarn, "faults: rules set: faults are being injected",
		slog.String("faults", inj.name), slog.Any("rules", names))
	return nil
}

// Clear removes every rule: nothing is injected any more. It is logged at
// Warn when rules were set.
func (inj *Injector) Clear() {
	if inj == nil {
		return
	}
	inj.control.Lock()
	defer inj.control.Unlock()
	if inj.rules.Swap(nil) != nil {
		inj.cfg.log().LogAttrs(context.Background(), slog.LevelWarn, "faults: rules cleared",
			slog.String("faults", inj.name))
	}
}

// Active reports whether rules are in force: whether faults may be
// injected. It is an atomic load.
func (inj *Injector) Active() bool { return inj != nil && inj.rules.Load() != nil }

// Rules returns a copy of the rules in force, nil when there are none.
func (inj *Injector) Rules() []Rule {
	if inj == nil {
		return nil
	}
	rs := inj.rules.Load()
	if rs == nil {
		return nil
	}
	out := make([]Rule, len(rs.rules))
	for i, c := range rs.rules {
		out[i] = c.Rule
	}
	return out
}

// Call is what rules match a request or call against, for adapters of
// protocols other than HTTP (package faultsgrpc) and code that injects
// faults of its own with Pick. Empty fields match only rules that do not
// ask for them.
type Call struct {
	Method     string // the HTTP method
	Route      string // the ServeMux pattern (r.Pattern)
	Path       string // the URL path
	Host       string // the host addressed, or a gRPC client's target
	GRPCMethod string // a gRPC full method, "/pkg.Svc/Method"
	// Header reads an HTTP header by its canonical name; nil has none.
	// An http.Header is read without a method call.
	Header interface{ Get(name string) string }
	// Metadata, for gRPC calls, reads a metadata value by its lower-case
	// name from the call's context, only when a rule asks for one; it
	// takes the place of Header, and of Host when Host is empty (as
	// ":authority"). A function, not a closure, so that passing it costs
	// nothing.
	Metadata func(ctx context.Context, name string) string
}

// Fault is the fault Pick chose for one request or call. The zero Fault
// injects nothing.
type Fault struct {
	c     *compiled
	delay time.Duration
}

// Pick returns the fault the first matching rule injects into the call,
// after its draw, or the zero Fault. A chosen fault is counted, logged
// and added to the span in ctx at once: apply it. On a nil Injector, or
// one with no rules, it is the zero Fault.
func (inj *Injector) Pick(ctx context.Context, call Call) Fault {
	if inj == nil {
		return Fault{}
	}
	rs := inj.rules.Load()
	if rs == nil {
		return Fault{}
	}
	return inj.pick(ctx, rs, &call)
}

func (inj *Injector) pick(ctx context.Context, rs *ruleSet, call *Call) Fault {
	principal, principalRead := "", false
	for _, c := range rs.rules {
		m := &c.Match
		if m.GRPCMethod != "" {
			if call.GRPCMethod == "" || !grpcMethodMatches(m.GRPCMethod, call.GRPCMethod) {
				continue
			}
		} else if call.GRPCMethod != "" && (m.Method != "" || m.Route != "" || m.PathPrefix != "") {
			continue
		}
		if m.Method != "" && m.Method != call.Method ||
			m.Route != "" && m.Route != call.Route ||
			m.PathPrefix != "" && !strings.HasPrefix(call.Path, m.PathPrefix) {
			continue
		}
		if m.Host != "" {
			host := call.Host
			if host == "" && call.Metadata != nil {
				host = call.Metadata(ctx, ":authority")
			}
			if host != m.Host {
				continue
			}
		}
		if c.header != "" && !c.headerMatches(ctx, call) {
			continue
		}
		if m.Principal != "" {
			if !principalRead {
				principalRead = true
				if p, ok := authz.FromContext(ctx); ok {
					principal = p.ID
				}
			}
			if principal != m.Principal {
				continue
			}
		}
		if !c.always && inj.draw() >= c.threshold {
			continue
		}
		f := Fault{c: c, delay: c.Latency}
		if c.Jitter > 0 {
			f.delay += time.Duration(inj.draw() % uint64(c.Jitter))
		}
		inj.record(ctx, c)
		return f
	}
	return Fault{}
}

func grpcMethodMatches(pattern, method string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(method, pattern)
	}
	return pattern == method
}

func (c *compiled) headerMatches(ctx context.Context, call *Call) bool {
	var v string
	switch h := call.Header.(type) {
	case http.Header: // the name is canonical already
		vs, present := h[c.header]
		if c.hdrAny {
			return present
		}
		return len(vs) > 0 && vs[0] == c.hdrValue
	case nil:
		if call.Metadata == nil {
			return false
		}
		v = call.Metadata(ctx, c.mdHeader)
	default:
		v = h.Get(c.header)
	}
	return v == c.hdrValue || c.hdrAny && v != ""
}

func (inj *Injector) draw() uint64 {
	if inj.cfg.src == nil {
		return rand.Uint64()
	}
	inj.randMu.Lock()
	defer inj.randMu.Unlock()
	return inj.cfg.src.Uint64()
}

func (inj *Injector) record(ctx context.Context, c *compiled) {
	c.injected.Add(1)
	inj.total.Add(1)
	inj.metric.Record(ctx, c.attrs)
	inj.cfg.log().LogAttrs(ctx, slog.LevelInfo, "faults: injected", slog.String("faults", inj.name),
		slog.Bool("fault", true), slog.String("rule", c.Name), slog.String("kind", c.kind))
}

// Injected reports whether the fault injects anything.
func (f Fault) Injected() bool { return f.c != nil }

// Rule returns the rule that chose the fault; the zero Rule for the zero
// Fault.
func (f Fault) Rule() Rule {
	if f.c == nil {
		return Rule{}
	}
	return f.c.Rule
}

// Delay is the latency the fault injects, jitter included.
func (f Fault) Delay() time.Duration { return f.delay }

// Wait waits out the fault's delay, or until ctx ends, returning ctx's
// error then.
func (f Fault) Wait(ctx context.Context) error {
	if f.delay <= 0 {
		return nil
	}
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the fault's error: an *InjectedError for an injected error
// (with its HTTP status), a reset or an abort; nil for latency alone.
func (f Fault) Err() error {
	if f.c == nil {
		return nil
	}
	switch f.c.kind {
	case KindError:
		return &InjectedError{Rule: f.c.Name, Kind: KindError, Status: f.c.httpStatus()}
	case KindReset:
		return resetError(f.c.Name)
	case KindAbort:
		return abortError(f.c.Name)
	}
	return nil
}

// Kind is the fault's kind, as Rule.Kind; "" for the zero Fault.
func (f Fault) Kind() string {
	if f.c == nil {
		return ""
	}
	return f.c.kind
}

// ruleCounts returns each rule in force with how many faults it injected.
func (inj *Injector) ruleCounts() []ruleStat {
	rs := inj.rules.Load()
	if rs == nil {
		return []ruleStat{}
	}
	out := make([]ruleStat, 0, len(rs.rules))
	for _, c := range rs.rules {
		out = append(out, ruleStat{Name: c.Name, Kind: c.kind, Percent: c.Percent, Injected: c.injected.Load(), Rule: c.Rule})
	}
	return slices.Clip(out)
}
