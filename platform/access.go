package platform

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/httpx"
)

type authenticationSection struct {
	Mode    string   `json:"mode"`
	Schemes []string `json:"schemes"`
}

type authorizationSection struct {
	Check     string            `json:"check"`
	Resources []resourceSection `json:"resources"`
}

type resourceSection struct {
	Name             string   `json:"name"`
	ForEach          string   `json:"forEach"`
	ID               string   `json:"id"`
	Resolver         string   `json:"resolver"`
	CompartmentField string   `json:"compartmentField"`
	Permissions      []string `json:"permissions"`
}

// Grant is what the resources form of authorization found for one
// resource: its id, its owning compartment, the permissions the caller
// holds there and the resource itself, as the resolver returned it. Checks
// see each entry's grants as resources["Name"] (a list, with the fields
// id, compartment, permissions and resource); handlers find one with
// authz.Resource(ctx, "Name", id).
type Grant struct {
	ID          string   `expr:"id" json:"id"`
	Compartment string   `expr:"compartment" json:"compartment"`
	Permissions []string `expr:"permissions" json:"permissions"`
	Resource    any      `expr:"resource" json:"resource"`
}

// authentication authenticates requests for the inner authorizer, so
// that rate limits keyed by principal and resource lookups see the
// principal: authz does not authenticate again a request whose context
// holds one.
type authentication struct {
	mode   authz.Mode
	auth   authz.Authenticator
	logger *slog.Logger
}

func (a *authentication) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if _, ok := authz.FromContext(ctx); ok {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.auth.Authenticate(ctx, r.Header)
		if err == nil && p == nil {
			err = authz.ErrUnauthenticated
		}
		if err != nil {
			if errors.Is(err, authz.ErrNoCredentials) && a.mode == authz.Optional {
				next.ServeHTTP(w, r)
				return
			}
			a.reject(w, r, err)
			return
		}
		if info := callinfo.From(ctx); info != nil {
			info.PrincipalID, info.PrincipalType, info.PrincipalTenant = p.ID, p.Type, p.Tenant
		}
		next.ServeHTTP(w, r.WithContext(authz.WithPrincipal(ctx, p)))
	})
}

// reject answers an authentication failure: 401 with the challenges, or
// 403 when no authenticator has a challenge to send (RFC 9110 section
// 15.5.2 wants one on every 401).
func (a *authentication) reject(w http.ResponseWriter, r *http.Request, err error) {
	a.logger.LogAttrs(r.Context(), slog.LevelDebug, "platform: unauthenticated",
		slog.String("operation", r.Pattern), slog.String("reason", err.Error()))
	if info := callinfo.From(r.Context()); info != nil {
		info.Decision, info.Reason = "deny", "unauthenticated"
	}
	c := a.auth.Challenge(err)
	if c == "" {
		httpx.WriteError(w, r, authz.ErrDenied)
		return
	}
	w.Header().Add("WWW-Authenticate", c)
	httpx.WriteError(w, r, authz.ErrUnauthenticated)
}

// access compiles the authentication and authorization sections of every
// operation into the options of one authz.Authorizer and a middleware per
// operation.
type access struct {
	b        *builder
	opts     []authz.Option
	rules    map[string]ruleOrigin // rule name -> where it came from
	grants   map[string]string     // resources name -> resolver
	grantPtr map[string]string     // resources name -> pointer of first use
	authn    map[*operation]func(http.Handler) http.Handler
	guarded  map[*operation]bool
}

type ruleOrigin struct {
	op      *operation
	rel     string // the pointer of the expression in the merged x-platform
	skip    int    // lines the platform put before the user's expression
	lines   int    // lines of the user's expression
	generic string // pointer for problems in the platform's lines
}

func newAccess(b *builder) *access {
	return &access{b: b, rules: map[string]ruleOrigin{}, grants: map[string]string{}, grantPtr: map[string]string{},
		authn: map[*operation]func(http.Handler) http.Handler{}, guarded: map[*operation]bool{}}
}

func parseMode(s string) authz.Mode {
	switch s {
	case "optional":
		return authz.Optional
	case "none":
		return authz.None
	}
	return authz.Required
}

// compile adds op's authentication and rules.
func (a *access) compile(op *operation) {
	b := a.b
	var an authenticationSection
	if v, ok := op.section("authentication"); ok && !op.bad["authentication"] {
		if err := decode(v, &an); err != nil {
			b.add(op.at("/authentication"), err.Error())
		}
	}
	mode := parseMode(an.Mode)
	var az authorizationSection
	azSet := false
	if v, ok := op.section("authorization"); ok {
		if op.bad["authorization"] {
			return
		}
		azSet = true
		if err := decode(v, &az); err != nil {
			b.add(op.at("/authorization"), err.Error())
			return
		}
	}
	if mode != authz.None {
		var auths []authz.Authenticator
		if an.Schemes == nil {
			for _, na := range b.c.auths {
				auths = append(auths, na.auth)
			}
			if len(auths) == 0 {
				b.add(op.written("/authentication/mode"), "authentication is "+mode.String()+" but no authenticator is registered (platform.WithAuthenticator)")
			}
		}
		for i, s := range an.Schemes {
			found := false
			for _, na := range b.c.auths {
				if na.name == s {
					auths = append(auths, na.auth)
					found = true
				}
			}
			if !found {
				b.add(op.at("/authentication/schemes/"+strconv.Itoa(i)), "unknown authenticator "+strconv.Quote(s)+" (platform.WithAuthenticator)")
			}
		}
		au := &authentication{mode: mode, auth: authz.First(auths...), logger: b.c.log()}
		a.authn[op] = au.middleware
	}
	if op.Pattern == "" || op.ID == "" {
		return
	}
	a.guarded[op] = true
	if !azSet {
		if mode == authz.None {
			a.opts = append(a.opts, authz.WithPublic(op.Pattern))
			return
		}
		b.add(op.Pointer+"/"+Extension, "no authorization: give authorization.check or resources, or authentication.mode none for a public operation")
		return
	}
	a.opts = append(a.opts, authz.WithAuthentication(mode, op.Pattern))
	if az.Check == "" && len(az.Resources) == 0 {
		b.add(op.at("/authorization"), "authorization needs a check or resources")
		return
	}
	var rules []authz.Rule
	var binds []string
	names := map[string]bool{}
	for i, rs := range az.Resources {
		rel := "/authorization/resources/" + strconv.Itoa(i)
		if names[rs.Name] {
			b.add(op.at(rel+"/name"), "resources name "+strconv.Quote(rs.Name)+" used twice")
			continue
		}
		names[rs.Name] = true
		if _, ok := b.c.resolvers[rs.Resolver]; !ok {
			b.add(op.at(rel+"/resolver"), "unknown resolver "+strconv.Quote(rs.Resolver)+" (platform.WithResolver)")
			continue
		}
		if _, clash := b.c.resolvers[rs.Name]; clash {
			b.add(op.at(rel+"/name"), "resources name "+strconv.Quote(rs.Name)+" is also a resolver's name; name the results differently")
			continue
		}
		field := rs.CompartmentField
		if field == "" {
			field = b.c.compartment
		}
		key := rs.Resolver + "\x00" + field
		if prev, ok := a.grants[rs.Name]; ok && prev != key {
			b.add(op.at(rel+"/name"), "resources name "+strconv.Quote(rs.Name)+" is defined with another resolver or compartment field at "+a.grantPtr[rs.Name])
			continue
		}
		if _, ok := a.grants[rs.Name]; !ok {
			a.grants[rs.Name] = key
			a.grantPtr[rs.Name] = op.at(rel)
			a.opts = append(a.opts, authz.WithResolver(rs.Name, a.grantResolver(rs.Resolver, field)))
		}
		kind := strconv.Quote(rs.Name)
		need := "true"
		if len(rs.Permissions) > 0 {
			parts := make([]string, len(rs.Permissions))
			for j, p := range rs.Permissions {
				parts[j] = strconv.Quote(p) + " in g.permissions"
			}
			need = strings.Join(parts, " && ")
		}
		name := op.ID + "." + rs.Name
		var src, srcRel string
		if rs.ForEach != "" {
			src = "any(\n" + rs.ForEach + "\n, {let g = resource(" + kind + ", #); !(" + need + ")})"
			srcRel = rel + "/forEach"
			binds = append(binds, kind+": map("+oneLine(rs.ForEach)+", resource("+kind+", #))")
		} else {
			src = "let g = resource(" + kind + ",\n" + rs.ID + "\n); !(" + need + ")"
			srcRel = rel + "/id"
			binds = append(binds, kind+": [resource("+kind+", "+oneLine(rs.ID)+")]")
		}
		a.rules[name] = ruleOrigin{op: op, rel: srcRel, skip: 1, lines: strings.Count(src, "\n") - 1, generic: op.at(srcRel)}
		rules = append(rules, authz.Forbid(name, src))
	}
	if az.Check != "" {
		for _, n := range resourcesNamed(az.Check) {
			if !names[n] {
				b.add(op.at("/authorization/check"), "resources["+strconv.Quote(n)+"]: no resources entry is named "+strconv.Quote(n))
			}
		}
	}
	check := "true"
	skip := 0
	if az.Check != "" {
		check = az.Check
		if len(binds) > 0 && strings.Contains(check, "resources") {
			check = "let resources = {" + strings.Join(binds, ", ") + "};\n" + check
			skip = 1
		}
	}
	a.rules[op.ID] = ruleOrigin{op: op, rel: "/authorization/check", skip: skip, lines: strings.Count(az.Check, "\n") + 1, generic: op.at("/authorization")}
	rules = append(rules, authz.Allow(op.ID, check))
	a.opts = append(a.opts, authz.WithRoute(op.Pattern, rules...))
}

// resourcesNamed returns the constant names the expression looks up in
// resources (resources["Subnet"]), unless it declares resources itself.
func resourcesNamed(src string) []string {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // authz reports it
	}
	v := &resourcesVisitor{}
	ast.Walk(&tree.Node, v)
	if v.declared {
		return nil
	}
	return v.names
}

type resourcesVisitor struct {
	names    []string
	declared bool
}

func (v *resourcesVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.VariableDeclaratorNode:
		if n.Name == "resources" {
			v.declared = true
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "resources" {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok {
			v.names = append(v.names, s.Value)
		}
	}
}

// oneLine keeps an embedded expression on the line it is put on, so that
// positions in the user's text stay where they were.
func oneLine(s string) string { return "(" + strings.ReplaceAll(s, "\n", " ") + ")" }

// build makes the Authorizer, mapping its compile errors back to the
// document.
func (a *access) build() *authz.Authorizer {
	b := a.b
	if len(a.guarded) == 0 {
		return nil
	}
	opts := []authz.Option{authz.WithLogger(b.c.logger), authz.WithMeterProvider(b.c.meterProvider)}
	for name, fn := range b.c.resolvers {
		opts = append(opts, authz.WithResolver(name, fn))
	}
	opts = append(opts, a.opts...)
	opts = append(opts, b.c.authzOpts...)
	az, err := authz.New(opts...)
	if err == nil {
		return az
	}
	for _, e := range flatten(err) {
		var ce *authz.CompileError
		if !errors.As(e, &ce) {
			b.add("", e.Error())
			continue
		}
		ro, ok := a.rules[ce.Rule]
		if !ok {
			b.add("", e.Error())
			continue
		}
		line := ce.Line - ro.skip
		if line < 1 && ro.rel == "/authorization/check" {
			continue // the resources binding: its entries' rules report it
		}
		if line < 1 || line > ro.lines {
			b.add(ro.generic, ce.Message)
			continue
		}
		b.add(ro.op.at(ro.rel), ce.Message+" ("+strconv.Itoa(line)+":"+strconv.Itoa(ce.Column)+")")
	}
	return nil
}

// flatten returns the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// grantResolver looks a resource up with the named resolver and adds the
// permissions the caller holds in its compartment.
func (a *access) grantResolver(resolver, field string) func(ctx context.Context, id string) (any, error) {
	fn := a.b.c.resolvers[resolver]
	perms := a.b.c.permissions
	if perms == nil {
		perms = tenantScopes
	}
	return func(ctx context.Context, id string) (any, error) {
		v, err := fn(ctx, id)
		if err != nil || v == nil {
			return nil, err
		}
		comp, err := fieldString(v, field)
		if err != nil {
			return nil, err
		}
		p, _ := authz.FromContext(ctx)
		granted, err := perms(ctx, p, comp)
		if err != nil {
			return nil, err
		}
		return &Grant{ID: id, Compartment: comp, Permissions: granted, Resource: v}, nil
	}
}

// tenantScopes is the default permission source: a principal holds its
// scopes in its own tenant's compartment, and nothing elsewhere.
func tenantScopes(_ context.Context, p *authz.Principal, compartment string) ([]string, error) {
	if p == nil || p.Tenant == "" || p.Tenant != compartment {
		return nil, nil
	}
	return p.Scopes, nil
}

// fieldString reads the string field name of a resource as expressions
// do (a map key, or a struct field by name or expr tag).
func fieldString(v any, name string) (s string, err error) {
	defer func() {
		if recover() != nil {
			s, err = "", errors.New("platform: resource has no field "+strconv.Quote(name))
		}
	}()
	f := runtime.Fetch(v, name)
	s, ok := f.(string)
	if !ok {
		return "", errors.New("platform: resource field " + strconv.Quote(name) + " is not a string")
	}
	return s, nil
}
