package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/otelx"
)

// authorizerConfig holds the settings of New.
type authorizerConfig struct {
	auths        []Authenticator
	routes       []routeSpec
	public       []string
	modes        []modeSpec
	def          []Rule
	dryRun       bool
	onError      func(http.ResponseWriter, *http.Request, error)
	outageStatus int
}

type routeSpec struct {
	pattern string
	rules   []Rule
}

type modeSpec struct {
	pattern string
	mode    Mode
}

// Authorizer authenticates requests and decides, by rules per route,
// whether they may proceed. Build it with New; it is safe for concurrent
// use. Its Middleware serves HTTP, authzgrpc serves gRPC, and Close
// releases its resolver caches.
type Authorizer struct {
	auths     []Authenticator
	routes    map[string]*route
	def       *route
	res       *resolvers
	allow     []string
	maxBody   int64
	maxDepth  int
	dryRun    bool
	outage503 bool
	onError   func(http.ResponseWriter, *http.Request, error)
	logger    *slog.Logger // nil: slog.Default()
	pool      sync.Pool
	warned    atomic.Bool

	nextLog    atomic.Int64 // unix nanoseconds before which dry-run lines are suppressed
	suppressed atomic.Int64 // dry-run lines suppressed since the last one
}

// route is one operation's authentication mode and rules.
type route struct {
	pattern string
	mode    Mode
	public  bool
	rules   []*rule // forbid rules first
	usesNow bool
	// native: every rule is a principal function of a constant
	// (Policy.call), so deciding needs no evaluation from the pool.
	native bool
	none   *otelx.Counter // decisions no rule decided
}

// rule is a compiled Rule with its reasons and counter built once.
type rule struct {
	name      string
	effect    Effect
	policy    *Policy
	allowed   string
	forbidden string
	failed    string
	counter   *otelx.Counter
}

// Reasons of decisions no rule decided.
const (
	reasonNoRule = "no rule allowed"
	reasonPublic = "public"
	// noneRule is the paved.authz.policy of decisions no rule decided.
	noneRule = "none"
)

// New returns an Authorizer configured by opts: authenticators
// (WithAuthenticator), rules per route (WithRoute, WithPublic,
// WithAuthentication, WithDefault), what expressions see (WithHeaders,
// WithResolver, WithResolverCache, WithMaxLookups, WithMaxBodyBytes,
// WithMaxBodyDepth, WithMaxNodes, WithMemoryBudget) and how it answers
// and reports (WithDryRun, WithErrorHandler, WithOutageStatus,
// WithLogger, WithMeterProvider). It compiles every rule and returns
// every problem at once: each compile error is a *CompileError naming
// the route and rule.
func New(opts ...Option) (*Authorizer, error) {
	c := config{policy: defaultPolicyConfig()}
	c.authorizer.outageStatus = http.StatusForbidden
	if err := applyOptions(&c, forNew, opts); err != nil {
		return nil, err
	}
	res, err := newResolvers(&c)
	if err != nil {
		return nil, err
	}
	a := &Authorizer{
		auths:     c.authorizer.auths,
		routes:    make(map[string]*route),
		res:       res,
		allow:     canonicalHeaders(c.policy.headers),
		maxBody:   c.policy.maxBodyBytes,
		maxDepth:  c.policy.maxBodyDepth,
		dryRun:    c.authorizer.dryRun,
		outage503: c.authorizer.outageStatus == http.StatusServiceUnavailable,
		onError:   c.authorizer.onError,
		logger:    c.logger,
	}
	if err := a.build(&c); err != nil {
		res.close()
		return nil, err
	}
	return a, nil
}

// build compiles the routes of c into a.
func (a *Authorizer) build(c *config) error {
	var errs []error
	counters := map[string]*otelx.Counter{}
	counter := func(name string) *otelx.Counter {
		if ctr, ok := counters[name]; ok {
			return ctr
		}
		ctr, err := otelx.AuthzDecisions(c.meterProvider, name)
		if err != nil {
			errs = append(errs, errors.New("authz: "+err.Error()))
		}
		counters[name] = ctr
		return ctr
	}
	compile := func(pattern string, rules []Rule) *route {
		rt := &route{pattern: pattern, none: counter(noneRule), native: true}
		seen := map[string]bool{}
		for _, r := range rules {
			where := "rule " + strconv.Quote(r.Name)
			if pattern != "" {
				where = "route " + strconv.Quote(pattern) + " " + where
			}
			switch {
			case r.Name == "":
				errs = append(errs, errors.New("authz: route "+strconv.Quote(pattern)+": a rule has no name"))
				continue
			case seen[r.Name]:
				errs = append(errs, errors.New("authz: "+where+" given twice"))
				continue
			case r.Effect != EffectAllow && r.Effect != EffectForbid:
				errs = append(errs, errors.New("authz: "+where+": unknown effect "+r.Effect.String()))
				continue
			}
			seen[r.Name] = true
			p, err := compilePolicy(r.Expression, &c.policy, a.res, pattern)
			if err != nil {
				if ce, ok := err.(*CompileError); ok {
					ce.Operation, ce.Rule = pattern, r.Name
				}
				errs = append(errs, err)
				continue
			}
			q := strconv.Quote(r.Name)
			rt.rules = append(rt.rules, &rule{
				name: r.Name, effect: r.Effect, policy: p,
				allowed:   "allowed by rule " + q,
				forbidden: "forbidden by rule " + q,
				failed:    "rule " + q + " failed",
				counter:   counter(r.Name),
			})
			rt.usesNow = rt.usesNow || p.usesNow
			rt.native = rt.native && p.call != nil
		}
		// Forbid rules first: one that matches decides without the others.
		slices.SortStableFunc(rt.rules, func(x, y *rule) int { return int(y.effect) - int(x.effect) })
		return rt
	}

	a.def = compile("", c.authorizer.def)
	for _, rs := range c.authorizer.routes {
		if _, dup := a.routes[rs.pattern]; dup {
			errs = append(errs, errors.New("authz: WithRoute "+strconv.Quote(rs.pattern)+" given twice"))
			continue
		}
		a.routes[rs.pattern] = compile(rs.pattern, rs.rules)
	}
	for _, p := range c.authorizer.public {
		if _, dup := a.routes[p]; dup {
			errs = append(errs, errors.New("authz: WithPublic "+strconv.Quote(p)+" also has rules or is given twice"))
			continue
		}
		a.routes[p] = &route{pattern: p, mode: None, public: true, none: counter(noneRule)}
	}
	for _, m := range c.authorizer.modes {
		rt, ok := a.routes[m.pattern]
		switch {
		case !ok:
			errs = append(errs, errors.New("authz: WithAuthentication "+strconv.Quote(m.pattern)+" has no rules (WithRoute)"))
		case rt.public:
			errs = append(errs, errors.New("authz: WithAuthentication "+strconv.Quote(m.pattern)+" is public"))
		default:
			rt.mode = m.mode
		}
	}
	return errors.Join(errs...)
}

// Close releases the resolver caches of WithResolverCache. The
// Authorizer keeps deciding, without them.
func (a *Authorizer) Close() error {
	if a == nil {
		return nil
	}
	a.res.close()
	return nil
}

// routeFor returns the route of pattern, or the default one.
func (a *Authorizer) routeFor(pattern string) *route {
	if rt, ok := a.routes[pattern]; ok {
		return rt
	}
	return a.def
}

func (a *Authorizer) log() *slog.Logger {
	if a.logger != nil {
		return a.logger
	}
	return slog.Default()
}

// authError is an authentication failure and the challenges to send.
type authError struct {
	err        error
	challenges []string
}

// authenticate finds the caller of a request with headers h on rt: the
// principal already in ctx, or the first authenticator's that finds a
// credential. A nil principal and nil error mean anonymous.
func (a *Authorizer) authenticate(ctx context.Context, rt *route, h Headers) (*Principal, *authError) {
	if rt.mode == None {
		return nil, nil
	}
	if p, ok := FromContext(ctx); ok {
		return p, nil
	}
	for i, au := range a.auths {
		p, err := au.Authenticate(ctx, h)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err != nil || p == nil {
			if err == nil {
				err = ErrUnauthenticated
			}
			return nil, &authError{err: err, challenges: a.challenges(i, err)}
		}
		return p, nil
	}
	if rt.mode == Optional {
		return nil, nil
	}
	return nil, &authError{err: ErrNoCredentials, challenges: a.challenges(-1, ErrNoCredentials)}
}

// challenges returns the WWW-Authenticate values: the deciding
// authenticator's (i), or every authenticator's for a missing credential.
func (a *Authorizer) challenges(i int, err error) []string {
	var out []string
	for j, au := range a.auths {
		if i >= 0 && j != i {
			continue
		}
		if c := au.Challenge(err); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// decide evaluates rt's rules for the principal p (nil: anonymous) on ev,
// which is nil when rt is native.
func (a *Authorizer) decide(ctx context.Context, rt *route, p *Principal, ev *evaluation) Decision {
	d := Decision{Operation: rt.pattern}
	for _, ru := range rt.rules {
		if ru.policy.usesBody {
			if ev.loadBody(); ev.bodyErr != nil && !a.dryRun {
				return d // finish answers the body's error
			}
		}
		var ok bool
		var err error
		if ru.policy.call != nil {
			ok = ru.policy.call(p, ru.policy.arg)
		} else {
			ok, err = ru.policy.run(ev)
		}
		if err != nil {
			d.Errors = append(d.Errors, RuleError{Rule: ru.name, Err: err})
			if ru.effect == EffectForbid {
				d.Rule, d.Reason = ru.name, ru.failed
				ru.counter.Add(ctx, "error")
				a.explain(&d, rt, ev)
				return d
			}
			continue
		}
		if !ok {
			continue
		}
		if ru.effect == EffectForbid {
			d.Rule, d.Reason = ru.name, ru.forbidden
			ru.counter.Add(ctx, "deny")
			a.explain(&d, rt, ev)
			return d
		}
		d.Allowed, d.Rule, d.Reason = true, ru.name, ru.allowed
		ru.counter.Add(ctx, "allow")
		return d
	}
	d.Reason = reasonNoRule
	if len(d.Errors) > 0 {
		rt.none.Add(ctx, "error")
	} else {
		rt.none.Add(ctx, "deny")
	}
	a.explain(&d, rt, ev)
	return d
}

// explain adds to a denial which clause of each rule decided it. It runs
// only for denials, evaluating clauses of the allow rules that were false
// (resources come from the memo). ev is nil only when rt is native, whose
// rules have no clauses.
func (a *Authorizer) explain(d *Decision, rt *route, ev *evaluation) {
	for _, ru := range rt.rules {
		if ru.effect == EffectForbid {
			if ru.name == d.Rule && d.Reason == ru.forbidden {
				d.clauses = append(d.clauses, "rule "+strconv.Quote(ru.name)+" (forbid) matched")
			}
			continue
		}
		if failedRule(d, ru.name) {
			continue
		}
		d.clauses = append(d.clauses, ru.policy.explainFalse(ru.name, ev))
	}
}

func failedRule(d *Decision, name string) bool {
	for _, e := range d.Errors {
		if e.Rule == name {
			return true
		}
	}
	return false
}

// explainFalse says why the policy of the rule name was false on ev.
func (p *Policy) explainFalse(name string, ev *evaluation) string {
	head := "rule " + strconv.Quote(name) + " (allow) is false"
	switch p.op {
	case "&&":
		n := strconv.Itoa(len(p.clauses))
		for i, c := range p.clauses {
			ev.vm.MemoryBudget = p.budget
			out, err := ev.vm.Run(c.prog, &ev.env)
			if err != nil {
				return head + ": clause " + strconv.Itoa(i+1) + " of " + n + " failed: " + c.text
			}
			if ok, _ := out.(bool); !ok {
				return head + ": clause " + strconv.Itoa(i+1) + " of " + n + " is false: " + c.text
			}
		}
	case "||":
		return head + ": all " + strconv.Itoa(len(p.clauses)) + " clauses are false"
	}
	return head
}

// Call is a call to authorize that is not an *http.Request, such as a
// gRPC call (see authzgrpc).
type Call struct {
	// Operation selects the rules (WithRoute's pattern), such as a gRPC
	// full method; expressions see it as request.pattern.
	Operation string
	// Method and Path are request.method and request.path.
	Method, Path string
	// Headers holds the credentials and what request.header reads.
	Headers Headers
	// Body returns the call's body as JSON, for rules that read
	// request.body; nil means none.
	Body func() ([]byte, error)
}

// Authorize authenticates and authorizes c. It returns the context to
// serve the call with (holding the principal and the resources looked
// up), the decision, and the error to answer with: one unwrapping to
// ErrUnauthenticated, ErrDenied (a *DenyError), ErrUnavailable,
// ErrBodyTooLarge or ErrBadBody; nil when the call may proceed (in dry
// run, always, once logged and counted). c must not be nil.
func (a *Authorizer) Authorize(ctx context.Context, c *Call) (context.Context, Decision, error) {
	if a == nil {
		slog.Error("authz: Authorize on a nil *Authorizer: the call is denied")
		return ctx, Decision{Operation: c.Operation, Reason: "nil Authorizer"}, ErrDenied
	}
	rt := a.routeFor(c.Operation)
	info := callinfo.From(ctx)
	if info != nil {
		info.Operation = c.Operation
	}
	if rt.public {
		return ctx, a.public(info, rt), nil
	}
	p, aerr := a.authenticate(ctx, rt, c.Headers)
	if aerr != nil {
		if err := a.unauthenticated(ctx, info, c.Operation, aerr); err != nil {
			return ctx, Decision{Operation: rt.pattern}, err
		}
	}
	fillPrincipal(info, p)
	var ev *evaluation
	if !rt.native {
		ev = a.evaluation()
		ev.set(p, clock(rt.usesNow))
		ev.ec.Context = ctx
		ev.headers = c.Headers
		ev.req.Method, ev.req.Path, ev.req.Pattern = c.Method, c.Path, c.Operation
		ev.call = c
	}
	return a.finish(ctx, rt, p, ev, info)
}

// evaluation takes an evaluation from the pool.
func (a *Authorizer) evaluation() *evaluation {
	ev, _ := a.pool.Get().(*evaluation)
	if ev == nil {
		ev = newEvaluation()
	}
	ev.res = a.res
	ev.allow = a.allow
	return ev
}

// finish decides on ev (nil when rt is native), returns it to the pool,
// and reports. bodyErr is the error of reading the body, which answers the
// request unless in dry run.
func (a *Authorizer) finish(ctx context.Context, rt *route, p *Principal, ev *evaluation, info *callinfo.Info) (context.Context, Decision, error) {
	if ev == nil {
		d := a.decide(ctx, rt, p, nil)
		return a.report(ctx, p, d, info, nil, nil)
	}
	ev.maxBody, ev.maxDepth = a.maxBody, a.maxDepth
	d := a.decide(ctx, rt, p, ev)
	if bodyErr := ev.bodyErr; bodyErr != nil && !a.dryRun {
		ev.reset()
		a.pool.Put(ev)
		if l := a.log(); l.Enabled(ctx, slog.LevelDebug) {
			l.LogAttrs(ctx, slog.LevelDebug, "authz: bad request body", slog.String("operation", rt.pattern), slog.String("error", bodyErr.Error()))
		}
		rt.none.Add(ctx, "error")
		d = Decision{Operation: rt.pattern, Reason: "bad request body"}
		fillDecision(info, &d, nil)
		return ctx, d, bodyErr
	}
	outage := ev.outage
	found := ev.found()
	ev.reset()
	a.pool.Put(ev)
	return a.report(ctx, p, d, info, found, outage)
}

// report reports the decision d for p, with the resources found and the
// first lookup outage, and returns what finish does.
func (a *Authorizer) report(ctx context.Context, p *Principal, d Decision, info *callinfo.Info, found []memo, outage error) (context.Context, Decision, error) {
	fillDecision(info, &d, found)
	if !d.Allowed {
		err := a.denied(ctx, &d, outage)
		if !a.dryRun {
			return ctx, d, err
		}
	}
	if p != nil || found != nil {
		ctx = &authzCtx{Context: ctx, p: p, resources: found}
	}
	return ctx, d, nil
}

// denied reports a denial and returns the error to answer with.
func (a *Authorizer) denied(ctx context.Context, d *Decision, outage error) error {
	rule := d.Rule
	if rule == "" {
		rule = noneRule
	}
	otelx.AddEvent(ctx, otelx.EventAuthzDenied,
		attribute.String(otelx.AttrAuthzPolicy, rule), attribute.String("paved.authz.reason", d.Reason))
	if a.dryRun {
		a.logDryRun(ctx, "authz: would deny (dry run)", slog.String("operation", d.Operation), slog.String("rule", d.Rule), slog.String("decision", d.Explain()))
	} else if l := a.log(); l.Enabled(ctx, slog.LevelDebug) {
		l.LogAttrs(ctx, slog.LevelDebug, "authz: denied", slog.String("operation", d.Operation), slog.String("rule", d.Rule), slog.String("decision", d.Explain()))
	}
	if outage != nil {
		if l := a.log(); l.Enabled(ctx, slog.LevelDebug) {
			l.LogAttrs(ctx, slog.LevelDebug, "authz: resource lookup failed", slog.String("operation", d.Operation), slog.String("error", outage.Error()))
		}
		if a.outage503 {
			return ErrUnavailable
		}
	}
	return &DenyError{Operation: d.Operation, Rule: d.Rule, Reason: d.Reason}
}

// unauthenticated reports an authentication failure; it returns nil in
// dry run, when the call goes on as anonymous.
func (a *Authorizer) unauthenticated(ctx context.Context, info *callinfo.Info, op string, ae *authError) error {
	if a.dryRun {
		a.logDryRun(ctx, "authz: would answer unauthenticated (dry run)", slog.String("operation", op), slog.String("reason", ae.err.Error()))
	} else if l := a.log(); l.Enabled(ctx, slog.LevelDebug) {
		// The reason's message is built only for a log that takes it.
		l.LogAttrs(ctx, slog.LevelDebug, "authz: unauthenticated", slog.String("operation", op), slog.String("reason", ae.err.Error()))
	}
	if info != nil {
		info.Decision, info.Reason = "deny", "unauthenticated"
	}
	if a.dryRun {
		return nil
	}
	return &challengeError{err: ae.err, challenges: ae.challenges}
}

// dryRunLogInterval spaces the Info lines of dry run: a flood of denied
// requests must not flood the logs too. The metrics count every decision.
const dryRunLogInterval = time.Second

// logDryRun logs a dry-run line at Info unless one was logged less than
// dryRunLogInterval ago, in which case it only counts it as suppressed;
// the next line says how many were.
func (a *Authorizer) logDryRun(ctx context.Context, msg string, attrs ...slog.Attr) {
	l := a.log()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	now := time.Now().UnixNano()
	next := a.nextLog.Load()
	if now < next || !a.nextLog.CompareAndSwap(next, now+int64(dryRunLogInterval)) {
		a.suppressed.Add(1)
		return
	}
	attrs = append(attrs, slog.Int64("suppressed", a.suppressed.Swap(0)))
	l.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
}

// challengeError is an authentication failure with its challenges; it
// unwraps to ErrUnauthenticated and declares 401.
type challengeError struct {
	err        error
	challenges []string
}

func (e *challengeError) Error() string   { return ErrUnauthenticated.Error() }
func (e *challengeError) HTTPStatus() int { return http.StatusUnauthorized }
func (e *challengeError) Unwrap() []error { return []error{ErrUnauthenticated, e.err} }

// Challenges returns the WWW-Authenticate values for an authentication
// failure err that Authorize returned, nil for any other error.
func Challenges(err error) []string {
	if ce, ok := errors.AsType[*challengeError](err); ok {
		return ce.challenges
	}
	return nil
}

func (a *Authorizer) public(info *callinfo.Info, rt *route) Decision {
	d := Decision{Allowed: true, Operation: rt.pattern, Reason: reasonPublic}
	if info != nil {
		info.Decision, info.Reason = "allow", reasonPublic
	}
	return d
}

func fillPrincipal(info *callinfo.Info, p *Principal) {
	if info == nil || p == nil {
		return
	}
	info.PrincipalID, info.PrincipalType, info.PrincipalTenant = p.ID, p.Type, p.Tenant
}

func fillDecision(info *callinfo.Info, d *Decision, found []memo) {
	if info == nil {
		return
	}
	info.Decision = "deny"
	if d.Allowed {
		info.Decision = "allow"
	}
	info.Rule, info.Reason = d.Rule, d.Reason
	for _, m := range found {
		info.Resources = append(info.Resources, callinfo.Resource{Kind: m.kind, ID: m.id})
	}
}
