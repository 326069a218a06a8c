package authz

import (
	"net/http"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Program returns p's compiled program, for the raw side of benchmarks.
func Program(p *Policy) *vm.Program { return p.prog }

// Environment returns the environment p would be evaluated on for r by
// principal, built once, for the raw side of benchmarks.
func Environment(p *Policy, r *http.Request, principal *Principal) any {
	ev := newEvaluation()
	ev.res, ev.allow = p.res, p.allow
	ev.setHTTP(r, principal, time.Now())
	return &ev.env
}
