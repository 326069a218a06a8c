package authz

import (
	"context"
	"slices"
)

// Principal is the authenticated caller of a request: a user, a service or
// the holder of an API key. Authenticators build it; the middleware puts
// it in the request's context, where FromContext finds it and where
// policies see it as principal. A Principal is read by many goroutines
// once it is in a context: do not change it after WithPrincipal.
type Principal struct {
	// ID identifies the caller within its Type, such as a user id, a
	// service account or an API key's name. It is never the credential.
	ID string `expr:"id" json:"id"`
	// Type is the kind of caller, such as "user", "service" or "apikey".
	Type string `expr:"type" json:"type,omitempty"`
	// Tenant is the tenant, compartment, project or account the caller
	// belongs to: the unit that owns resources.
	Tenant string `expr:"tenant" json:"tenant,omitempty"`
	// Roles are the caller's roles, as hasRole sees them.
	Roles []string `expr:"roles" json:"roles,omitempty"`
	// Scopes are the caller's OAuth scopes or permissions, as hasScope and
	// hasPermission see them.
	Scopes []string `expr:"scopes" json:"scopes,omitempty"`
	// Claims holds any other attributes, such as a token's claims. Policies
	// read them as principal.claims.name.
	Claims map[string]any `expr:"claims" json:"claims,omitempty"`
	// Scheme names the authenticator that made the Principal, such as
	// "apikey" or "bearer".
	Scheme string `expr:"scheme" json:"scheme,omitempty"`
}

// HasRole reports whether p has the role. A nil Principal has none.
func (p *Principal) HasRole(role string) bool {
	return p != nil && slices.Contains(p.Roles, role)
}

// HasScope reports whether p has the scope or permission. A nil Principal
// has none.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx and whether there is one. A
// request the middleware let through without credentials (mode Optional
// or None) has none.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// PrincipalID returns the id of the principal in ctx, for keying rate
// limits by caller: ratelimit.Principal(authz.PrincipalID).
func PrincipalID(ctx context.Context) (string, bool) {
	p, ok := FromContext(ctx)
	if !ok || p.ID == "" {
		return "", false
	}
	return p.ID, true
}
