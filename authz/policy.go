package authz

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// policyConfig holds the settings of Compile, which New shares for every
// rule it compiles.
type policyConfig struct {
	maxNodes     uint
	memoryBudget uint
	headers      []string
	resolvers    []resolverSpec
	maxBodyBytes int64
	maxBodyDepth int
	maxLookups   int
	cacheTTL     time.Duration
}

// Defaults of Compile and New.
const (
	defaultMaxNodes     = 1000
	defaultMaxBodyBytes = 1 << 20
	defaultMaxBodyDepth = 32
	defaultMaxLookups   = 100
)

func defaultPolicyConfig() policyConfig {
	return policyConfig{
		maxNodes:     defaultMaxNodes,
		memoryBudget: conf.DefaultMemoryBudget,
		maxBodyBytes: defaultMaxBodyBytes,
		maxBodyDepth: defaultMaxBodyDepth,
		maxLookups:   defaultMaxLookups,
	}
}

// env is the environment every expression is compiled against and
// evaluated on. Its fields are the names an expression sees.
type env struct {
	Principal *Principal `expr:"principal"`
	Request   *request   `expr:"request"`
	Now       time.Time  `expr:"now"`
	// Ctx is the *evalCtx of the evaluation, which expr.WithContext
	// passes to resource(); expressions may not name it.
	Ctx context.Context `expr:"ctx"`

	// The functions over the principal are fields bound once to a pooled
	// evaluation: expr calls a func(string) bool field without
	// reflection or an argument buffer.
	HasRole       func(role string) bool       `expr:"hasRole"`
	HasScope      func(scope string) bool      `expr:"hasScope"`
	HasPermission func(permission string) bool `expr:"hasPermission"`
	InTenant      func(tenant string) bool     `expr:"inTenant"`
}

// request is what an expression sees of the request. The functions are
// bound once to a pooled evaluation, so calling them allocates nothing.
type request struct {
	Method  string `expr:"method"`
	Path    string `expr:"path"`
	Pattern string `expr:"pattern"`
	// Body is the request body parsed as JSON, only for policies that read it.
	Body      any                      `expr:"body"`
	PathValue func(name string) string `expr:"pathValue"`
	Query     func(name string) string `expr:"query"`
	Header    func(name string) string `expr:"header"`
}

// evalCtx is the context the functions of an expression receive: the
// request's context and the evaluation.
type evalCtx struct {
	context.Context
	ev *evaluation
}

// ctxName is the environment field expr.WithContext passes to functions.
const ctxName = "ctx"

// functions are the functions of the environment that are not fields:
// resource(), which reads the evaluation from the context
// expr.WithContext passes it.
var functions = []expr.Option{
	expr.Function("resource", func(params ...any) (any, error) {
		ec := params[0].(*evalCtx)
		id, err := idString(params[2])
		if err != nil {
			return nil, err
		}
		return ec.ev.lookup(params[1].(string), id)
	}, new(func(context.Context, string, any) any)),
}

// disabledBuiltins are expr builtins expressions may not call: those that
// read files (time zones), recurse over data of any depth, or build
// values of any size.
var disabledBuiltins = []string{"toJSON", "fromJSON", "flatten", "repeat", "timezone", "date"}

// Policy is a compiled, type-checked expression, ready to evaluate. It is
// safe for concurrent use: evaluations share the program and take their
// virtual machine and environment from a pool.
type Policy struct {
	source   string
	prog     *vm.Program
	budget   uint
	usesBody bool
	usesNow  bool
	op       string    // "&&" or "||": the top-level chain Explain splits
	clauses  []*clause // the operands of that chain, for Explain

	// A policy that is one call of a principal function with a constant
	// argument, such as hasRole("admin"), is answered by calling what the
	// function does, without the virtual machine.
	call func(p *Principal, arg string) bool
	arg  string

	// For Eval: the settings Compile was given.
	res   *resolvers
	cfg   *policyConfig
	pool  *sync.Pool
	allow []string // header allow-list, canonical
}

type clause struct {
	text string
	prog *vm.Program
}

// CompileError is an expression that does not compile, with its place.
// New returns one per failing rule, joined.
type CompileError struct {
	// Operation is the route pattern of the rule; "" for Compile and for
	// the default rules.
	Operation string
	// Rule is the rule's name; "" for Compile.
	Rule string
	// Line and Column locate the error in the expression, from 1.
	Line, Column int
	// Message says what is wrong.
	Message string
	// Snippet is the expression's line with a caret under the column.
	Snippet string
}

// Error returns "authz: ", the operation and rule when known, the message
// and its position, and the snippet.
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString("authz: ")
	if e.Operation != "" {
		b.WriteString("route ")
		b.WriteString(strconv.Quote(e.Operation))
		b.WriteString(" ")
	}
	if e.Rule != "" {
		b.WriteString("rule ")
		b.WriteString(strconv.Quote(e.Rule))
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(":")
	b.WriteString(strconv.Itoa(e.Column))
	b.WriteString(")")
	b.WriteString(e.Snippet)
	return b.String()
}

// Compile compiles and type-checks an authorization expression against
// the environment the package documentation describes. It accepts
// WithMaxNodes, WithMemoryBudget, WithHeaders, WithResolver,
// WithMaxLookups, WithMaxBodyBytes and
// WithMaxBodyDepth. An expression that is not of type bool, names
// anything outside the environment, calls a function with the wrong
// types, reads a header outside the allow-list or asks resource() for a
// kind without a resolver is a *CompileError that says where.
func Compile(expression string, opts ...Option) (*Policy, error) {
	c := config{policy: defaultPolicyConfig()}
	if err := applyOptions(&c, forCompile, opts); err != nil {
		return nil, err
	}
	res, err := newResolvers(&c)
	if err != nil {
		return nil, err
	}
	p, err := compilePolicy(expression, &c.policy, res, "")
	if err != nil {
		return nil, err
	}
	p.res = res
	p.cfg = &c.policy
	p.allow = canonicalHeaders(c.policy.headers)
	p.pool = &sync.Pool{}
	return p, nil
}

// String returns the expression.
func (p *Policy) String() string { return p.source }

// Eval evaluates the policy for r, made by principal (nil for an
// anonymous caller), and reports whether it holds. The body is read,
// within WithMaxBodyBytes, only when the expression uses request.body,
// and left for the handler to read again. An error means the expression
// failed: a resolver error, ErrNotFound, ErrBodyTooLarge, ErrBadBody.
func (p *Policy) Eval(r *http.Request, principal *Principal) (bool, error) {
	ev, _ := p.pool.Get().(*evaluation)
	if ev == nil {
		ev = newEvaluation()
	}
	defer func() {
		ev.reset()
		p.pool.Put(ev)
	}()
	ev.res = p.res
	ev.allow = p.allow
	ev.setHTTP(r, principal, clock(p.usesNow))
	if p.usesBody {
		body, err := readBody(r, p.cfg.maxBodyBytes, p.cfg.maxBodyDepth)
		if err != nil {
			return false, err
		}
		ev.req.Body = body
	}
	return p.run(ev)
}

// run evaluates the policy on ev's environment.
func (p *Policy) run(ev *evaluation) (bool, error) {
	if p.call != nil {
		return p.call(ev.env.Principal, p.arg), nil
	}
	ev.vm.MemoryBudget = p.budget
	out, err := ev.vm.Run(p.prog, &ev.env)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// exprOptions are the options every expression compiles with.
func exprOptions(c *policyConfig) []expr.Option {
	opts := []expr.Option{
		expr.Env(env{}),
		expr.AsBool(),
		expr.WarnOnAny(),
		expr.MaxNodes(c.maxNodes),
		expr.WithContext(ctxName),
	}
	opts = append(opts, functions...)
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	return opts
}

// compilePolicy compiles src for the route pattern ("" when unknown) and
// checks what the type checker cannot: names that must be constants of a
// known set.
func compilePolicy(src string, c *policyConfig, res *resolvers, pattern string) (p *Policy, err error) {
	defer func() {
		// expr reports its own bugs as panics on odd input; an expression
		// must never take the service down at start-up either.
		if r := recover(); r != nil {
			p, err = nil, &CompileError{Line: 1, Column: 1, Message: "expression not accepted"}
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Line: 1, Column: 1, Message: "empty expression"}
	}
	opts := exprOptions(c)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileError(err)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, compileError(err)
	}
	ck := checker{src: src, res: res, allow: canonicalHeaders(c.headers), pattern: pattern}
	un := &userNames{ck: &ck, vars: map[string]bool{}, collect: true}
	ast.Walk(&tree.Node, un)
	un.collect = false
	ast.Walk(&tree.Node, un)
	node := prog.Node()
	ast.Walk(&node, &ck)
	if ck.err != nil {
		return nil, ck.err
	}
	p = &Policy{
		source:   src,
		prog:     prog,
		budget:   c.memoryBudget,
		usesBody: ck.usesBody || ck.requestRefs > ck.requestMembers,
		usesNow:  ck.usesNow,
	}
	p.op, p.clauses = splitClauses(tree.Node, opts)
	p.call, p.arg = principalCall(tree.Node)
	return p, nil
}

// principalCalls are the functions of the environment that read only the
// principal, as principalCall finds them: what the functions bound in
// newEvaluation do, for a principal that is nil when anonymous.
var principalCalls = map[string]func(p *Principal, arg string) bool{
	"hasRole":       (*Principal).HasRole,
	"hasScope":      (*Principal).HasScope,
	"hasPermission": (*Principal).HasScope,
	"inTenant":      func(p *Principal, tenant string) bool { return tenant != "" && p != nil && p.Tenant == tenant },
}

// principalCall returns the function and argument of an expression that
// is nothing but a principal function called with a string constant, such
// as hasRole("admin"); nil for any other expression.
func principalCall(node ast.Node) (func(p *Principal, arg string) bool, string) {
	c, ok := node.(*ast.CallNode)
	if !ok || len(c.Arguments) != 1 {
		return nil, ""
	}
	name, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil, ""
	}
	arg, ok := c.Arguments[0].(*ast.StringNode)
	if !ok {
		return nil, ""
	}
	return principalCalls[name.Value], arg.Value
}

// compileError turns an error of expr into a *CompileError.
func compileError(err error) *CompileError {
	var fe *file.Error
	if errors.As(err, &fe) {
		line := fe.Line
		if line == 0 {
			line = 1
		}
		return &CompileError{Line: line, Column: fe.Column + 1, Message: fe.Message, Snippet: fe.Snippet}
	}
	return &CompileError{Line: 1, Column: 1, Message: err.Error()}
}

// splitClauses returns the operands of node's top-level && or || chain,
// each compiled on its own, so Explain can say which one decided.
func splitClauses(node ast.Node, opts []expr.Option) (string, []*clause) {
	b, ok := node.(*ast.BinaryNode)
	if !ok {
		return "", nil
	}
	op := normOp(b.Operator)
	if op == "" {
		return "", nil
	}
	var nodes []ast.Node
	var flatten func(n ast.Node)
	flatten = func(n ast.Node) {
		if b, ok := n.(*ast.BinaryNode); ok && normOp(b.Operator) == op {
			flatten(b.Left)
			flatten(b.Right)
			return
		}
		nodes = append(nodes, n)
	}
	flatten(node)
	clauses := make([]*clause, 0, len(nodes))
	for _, n := range nodes {
		text := n.String()
		prog, err := expr.Compile(text, opts...)
		if err != nil {
			return "", nil
		}
		clauses = append(clauses, &clause{text: text, prog: prog})
	}
	return op, clauses
}

func normOp(op string) string {
	switch op {
	case "&&", "and":
		return "&&"
	case "||", "or":
		return "||"
	}
	return ""
}

// names are the names an expression may use: the environment's and the
// builtins that are not disabled. expr's type checker does not look at
// every argument of a method call (now.After(x)), so the names are checked
// here too, on the parsed expression.
var names = func() map[string]bool {
	m := map[string]bool{
		"principal": true, "request": true, "now": true, "resource": true,
		"hasRole": true, "hasScope": true, "hasPermission": true, "inTenant": true,
	}
	for _, b := range builtin.Builtins {
		m[b.Name] = true
	}
	for _, b := range disabledBuiltins {
		delete(m, b)
	}
	return m
}()

// userNames rejects names outside the environment, including those that
// are there for the machinery (ctx, $env) and not for expressions.
type userNames struct {
	ck      *checker
	vars    map[string]bool // names declared with let, found by a first walk
	collect bool            // this is the first walk
}

func (u *userNames) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		if u.collect {
			u.vars[n.Name] = true
		}
	case *ast.IdentifierNode:
		if !u.collect && !names[n.Value] && !u.vars[n.Value] {
			u.ck.fail(n, "unknown name "+n.Value)
		}
	case *ast.BuiltinNode:
		if !u.collect && !names[n.Name] {
			u.ck.fail(n, "unknown name "+n.Name)
		}
	}
}

// checker walks a compiled expression for what the type checker cannot
// see: the kinds resource() is asked for, the headers and path values
// read, and whether request.body is.
type checker struct {
	src     string
	res     *resolvers
	allow   []string
	pattern string
	err     *CompileError

	usesBody       bool
	usesNow        bool
	requestRefs    int // identifiers "request"
	requestMembers int // of which, members with a constant name
}

func (c *checker) fail(n ast.Node, msg string) {
	if c.err != nil {
		return
	}
	fe := &file.Error{Location: n.Location(), Message: msg}
	c.err = compileError(fe.Bind(file.NewSource(c.src)))
}

func (c *checker) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "request":
			c.requestRefs++
		case "now":
			c.usesNow = true
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "request" {
			return
		}
		if name, ok := n.Property.(*ast.StringNode); ok {
			c.requestMembers++
			if name.Value == "body" {
				c.usesBody = true
			}
		}
	case *ast.CallNode:
		c.call(n)
	}
}

func (c *checker) call(n *ast.CallNode) {
	switch callee := n.Callee.(type) {
	case *ast.IdentifierNode:
		if callee.Value != "resource" || len(n.Arguments) != 3 {
			return
		}
		kind, ok := n.Arguments[1].(*ast.StringNode)
		if ok && c.res.get(kind.Value) == nil {
			c.fail(kind, "no resolver for resource kind "+strconv.Quote(kind.Value)+" (see WithResolver)")
		}
	case *ast.MemberNode:
		id, ok := callee.Node.(*ast.IdentifierNode)
		prop, ok2 := callee.Property.(*ast.StringNode)
		if !ok || !ok2 || id.Value != "request" || len(n.Arguments) != 1 {
			return
		}
		arg, ok := n.Arguments[0].(*ast.StringNode)
		if !ok {
			return
		}
		switch prop.Value {
		case "header":
			if !allowedHeader(c.allow, arg.Value) {
				c.fail(arg, "header "+strconv.Quote(arg.Value)+" is not in the allow-list (see WithHeaders)")
			}
		case "pathValue":
			if c.pattern != "" && !hasWildcard(c.pattern, arg.Value) {
				c.fail(arg, "pattern "+strconv.Quote(c.pattern)+" has no wildcard {"+arg.Value+"}")
			}
		}
	}
}

// hasWildcard reports whether the ServeMux pattern has the wildcard
// {name} or {name...}.
func hasWildcard(pattern, name string) bool {
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return false
		}
		pattern = pattern[i+1:]
		j := strings.IndexByte(pattern, '}')
		if j < 0 {
			return false
		}
		if strings.TrimSuffix(pattern[:j], "...") == name {
			return true
		}
		pattern = pattern[j+1:]
	}
}

func canonicalHeaders(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = http.CanonicalHeaderKey(n)
	}
	return out
}

func allowedHeader(allow []string, name string) bool {
	for _, a := range allow {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// idString converts an id given to resource() to a string: strings as
// they are, whole numbers (JSON numbers are float64) without a fraction.
func idString(v any) (string, error) {
	switch id := v.(type) {
	case string:
		return id, nil
	case float64:
		return strconv.FormatFloat(id, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(id), nil
	case int64:
		return strconv.FormatInt(id, 10), nil
	case nil:
		return "", errors.New("authz: resource id is nil")
	}
	return "", errors.New("authz: resource id must be a string or a number")
}

// clock returns the time of a decision whose rules read now, and the zero
// time, without reading the clock, for one whose rules do not.
func clock(used bool) time.Time {
	if used {
		return time.Now()
	}
	return time.Time{}
}
