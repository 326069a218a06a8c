package authz

import (
	"strconv"
	"strings"
)

// Effect is what a rule does when its expression is true: allow or forbid.
type Effect uint8

// The effects of rules.
const (
	// EffectAllow lets the request through, unless a forbid rule matches.
	EffectAllow Effect = iota + 1
	// EffectForbid denies the request whatever the allow rules say.
	EffectForbid
)

// String returns "allow" or "forbid".
func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "allow"
	case EffectForbid:
		return "forbid"
	}
	return "Effect(" + strconv.Itoa(int(e)) + ")"
}

// Rule is a named authorization rule: an expression over principal,
// request, now and resource() (see the package documentation) and what
// it does when the expression is true. Rules are combined as policy
// engines such as Cedar combine them: a matching forbid rule wins, else a
// matching allow rule allows, else the request is denied. A rule whose
// expression fails (a resolver error, a missing body field) cannot allow,
// and a failing forbid rule denies, since it might have matched.
type Rule struct {
	// Name identifies the rule in decisions, logs, errors and as the
	// paved.authz.policy metric attribute. It must not be empty.
	Name string
	// Expression is the condition, an expr-lang expression of type bool.
	Expression string
	// Effect is EffectAllow or EffectForbid.
	Effect Effect
}

// Allow returns a rule named name that allows a request when expression
// is true.
func Allow(name, expression string) Rule {
	return Rule{Name: name, Expression: expression, Effect: EffectAllow}
}

// Forbid returns a rule named name that denies a request when expression
// is true, whatever the allow rules say.
func Forbid(name, expression string) Rule {
	return Rule{Name: name, Expression: expression, Effect: EffectForbid}
}

// Decision is the outcome of authorizing one request: whether it is
// allowed, the rule that decided and why, and the errors of the rules
// that failed. Rules are evaluated forbid rules first, then allow rules,
// and evaluation stops at the first rule that decides.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Operation is the route pattern (or gRPC method) whose rules decided;
	// "" for the default rules of a request without one.
	Operation string
	// Rule names the rule that decided: the allow rule that matched, the
	// forbid rule that matched or failed; "" when nothing matched, or for a
	// public operation.
	Rule string
	// Reason says why in a few words, without a policy's text: "allowed by
	// rule \"owner\"", "no rule allowed", "forbidden by rule \"frozen\"".
	Reason string
	// Errors holds the errors of the rules that failed, in evaluation
	// order.
	Errors []RuleError

	// clauses explains the rules that did not match, for Explain; built
	// only for denials.
	clauses []string
}

// RuleError is the error of one rule whose expression failed.
type RuleError struct {
	// Rule is the rule's name.
	Rule string
	// Err is what failed: a resolver's error, ErrNotFound, a type error
	// at run time, a lookup cap.
	Err error
}

// Error returns the rule's name and its error.
func (e RuleError) Error() string { return "rule " + strconv.Quote(e.Rule) + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e RuleError) Unwrap() error { return e.Err }

// Explain returns the decision as text for logs and tests: the outcome,
// the operation, the reason, each failed rule's error, and for a denial
// which clause of each allow rule's top-level && chain was false (or that
// every clause of an || chain was). It quotes clauses of the rules, so it
// is for operators, not for clients.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("allow")
	} else {
		b.WriteString("deny")
	}
	if d.Operation != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(d.Operation))
	}
	b.WriteString(": ")
	b.WriteString(d.Reason)
	for _, e := range d.Errors {
		b.WriteString("; ")
		b.WriteString(e.Error())
	}
	for _, c := range d.clauses {
		b.WriteString("; ")
		b.WriteString(c)
	}
	return b.String()
}
