package audit

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// env is what field expressions see.
type env struct {
	Request   requestEnv   `expr:"request"`
	Response  responseEnv  `expr:"response"`
	Principal principalEnv `expr:"principal"`
}

type requestEnv struct {
	Method  string            `expr:"method"`
	Path    string            `expr:"path"`
	Pattern string            `expr:"pattern"`
	Headers map[string]string `expr:"headers"`
	Body    any               `expr:"body"`
}

type responseEnv struct {
	Status  int               `expr:"status"`
	Headers map[string]string `expr:"headers"`
	Body    any               `expr:"body"`
}

type principalEnv struct {
	ID     string `expr:"id"`
	Type   string `expr:"type"`
	Tenant string `expr:"tenant"`
}

// field is one compiled additional field.
type field struct {
	name    string
	program *vm.Program
}

// fieldSet is a route's compiled fields and what they need captured.
type fieldSet struct {
	fields  []field
	reqBody bool // some expression reads request.body
	resBody bool // some expression reads response.body
	headers bool // some expression reads request.headers or response.headers
}

// compileFields compiles fields, sorted by name, and records which parts
// of the call they read.
func compileFields(where string, fields map[string]string) (*fieldSet, error) {
	fs := &fieldSet{}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if n == "" {
			errs = append(errs, errors.New("audit: "+where+": empty field name"))
			continue
		}
		p, err := expr.Compile(fields[n], expr.Env(env{}))
		if err != nil {
			errs = append(errs, errors.New("audit: "+where+": field "+strconv.Quote(n)+": "+err.Error()))
			continue
		}
		fs.fields = append(fs.fields, field{name: n, program: p})
		node := p.Node()
		ast.Walk(&node, fs)
	}
	return fs, errors.Join(errs...)
}

// Visit notes the parts of the call an expression reads: request.body,
// response.body, and either side's headers.
func (fs *fieldSet) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	switch {
	case prop.Value == "headers":
		fs.headers = true
	case prop.Value == "body" && id.Value == "request":
		fs.reqBody = true
	case prop.Value == "body" && id.Value == "response":
		fs.resBody = true
	}
}

// fieldError is the value a failed expression records.
type fieldError struct {
	Error string `json:"error"`
}

// eval runs every field on e. It never fails: an expression that does
// records a fieldError for its name.
func (fs *fieldSet) eval(e *env) map[string]any {
	if fs == nil || len(fs.fields) == 0 {
		return nil
	}
	out := make(map[string]any, len(fs.fields))
	for _, f := range fs.fields {
		v, err := runField(f.program, e)
		if err != nil {
			// The first line: the rest quotes the expression back.
			msg, _, _ := strings.Cut(err.Error(), "\n")
			out[f.name] = fieldError{Error: msg}
			continue
		}
		// Checked here, so that a value JSON cannot encode (NaN, a
		// function) spoils its field, not the event.
		b, err := json.Marshal(v)
		if err != nil {
			out[f.name] = fieldError{Error: "value is not JSON: " + err.Error()}
			continue
		}
		out[f.name] = json.RawMessage(b)
	}
	return out
}

func runField(p *vm.Program, e *env) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("expression panicked")
		}
	}()
	return expr.Run(p, *e)
}
