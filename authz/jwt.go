package authz

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/paved-go/paved/internal/httpx"
)

// DefaultMaxTokenSize is the longest bearer token NewJWT accepts unless
// WithMaxTokenSize says otherwise, in bytes. Longer tokens are refused
// before they are decoded.
const DefaultMaxTokenSize = 8 << 10

type jwtConfig struct {
	algs          []string
	issuer        string
	audience      []string
	leeway        time.Duration
	timeFunc      func() time.Time
	noExpRequired bool
	maxTokenSize  int
	realm         string

	keys    []namedKey // WithKey, WithKeySet
	keySets [][]byte

	jwksURL         string
	jwksRefresh     time.Duration
	jwksMaxStale    time.Duration
	jwksRefetch     time.Duration
	jwksTransport   http.RoundTripper
	jwksMaxBodySize int64

	tenantClaim   string
	rolesClaim    string
	typeClaim     string
	principalFunc func(jwt.MapClaims) (*Principal, error)
}

type namedKey struct {
	kid string
	key any
}

// JWT authenticates requests by a bearer token (RFC 6750 section 2.1,
// "Authorization: Bearer <token>") that is a JSON Web Token signed with a
// JWS algorithm (RFC 7515, RFC 7519), verified with
// github.com/golang-jwt/jwt/v5. It is safe for concurrent use.
//
// A token is accepted when all of this holds: its algorithm is one of
// WithAlgorithms ("none" never is); its key, found by the header's kid,
// is of the algorithm's family (an HMAC secret never verifies an RS256 or
// ES256 token, nor an RSA key an HS256 one) and, for a JWK with alg or use,
// matches them; its signature verifies; it has an exp in the future and no
// nbf in the future, both within WithLeeway; its iss and aud match
// WithIssuer and WithAudience when set. The signature is checked before
// the claims, so an expired token with a bad signature is reported as an
// invalid signature. A token with a crit header parameter is refused (no
// extensions are understood, RFC 7515 section 4.1.11). The jku, x5u, x5c
// and jwk header parameters are ignored: a key is never taken or fetched
// from the token itself. kid is an opaque string, only ever used as a map
// key.
//
// A request without a bearer token (no Authorization header, or one with
// another scheme) gets ErrNoCredentials. Any other failure gets an error
// that unwraps to ErrUnauthenticated and whose message gives the reason
// for logs ("token expired", "invalid signature", "unknown key id"),
// never the token.
type JWT struct {
	parser       *jwt.Parser
	algs         []string
	static       *keySet
	jwks         *jwksSource
	maxTokenSize int
	realm        string
	challenge    string // for ErrNoCredentials
	tenantClaim  string
	rolesClaim   string
	typeClaim    string
	principal    func(jwt.MapClaims) (*Principal, error)
	verifiers    sync.Pool
}

// NewJWT returns a bearer-token authenticator. WithAlgorithms is required,
// and so is a key source: WithKey, WithKeySet or WithJWKS (several may be
// given; the static keys are looked up first). Other options: WithIssuer,
// WithAudience, WithLeeway, WithTimeFunc, WithExpirationRequired,
// WithMaxTokenSize, WithRealm, WithTenantClaim, WithRolesClaim,
// WithTypeClaim, WithPrincipalFunc, WithLogger, and for JWKS
// WithJWKSRefresh, WithJWKSMaxStale, WithUnknownKIDRefetch and
// WithJWKSTransport.
//
// A JWT that fetches a key set (WithJWKS) holds a cache and may run a
// refresh in the background: Close it when done. NewJWT does not fetch the
// key set; the first request does.
func NewJWT(opts ...Option) (*JWT, error) {
	cfg := config{jwt: jwtConfig{
		maxTokenSize:    DefaultMaxTokenSize,
		jwksRefresh:     time.Hour,
		jwksMaxStale:    24 * time.Hour,
		jwksRefetch:     5 * time.Minute,
		jwksMaxBodySize: 1 << 20,
		tenantClaim:     "tenant",
		rolesClaim:      "roles",
	}}
	errs := []error{applyOptions(&cfg, forJWT, opts)}
	c := &cfg.jwt
	if len(c.algs) == 0 {
		errs = append(errs, errors.New("authz: NewJWT: no WithAlgorithms"))
	}
	if len(c.keys) == 0 && len(c.keySets) == 0 && c.jwksURL == "" {
		errs = append(errs, errors.New("authz: NewJWT: no keys: give WithKey, WithKeySet or WithJWKS"))
	}
	static := &keySet{byKID: map[string]*verifyKey{}}
	for _, k := range c.keys {
		vk, err := newVerifyKey(k.key, "")
		if err != nil {
			errs = append(errs, errors.New("authz: WithKey("+strconv.Quote(k.kid)+"): "+err.Error()))
			continue
		}
		if err := static.add(k.kid, vk); err != nil {
			errs = append(errs, errors.New("authz: WithKey: "+err.Error()))
		}
	}
	for _, js := range c.keySets {
		if err := static.addJWKS(js, true, nil); err != nil {
			errs = append(errs, errors.New("authz: WithKeySet: "+err.Error()))
		}
	}
	if c.jwksURL == "" && len(static.byKID) > 0 && !static.usableBy(c.algs) {
		errs = append(errs, errors.New("authz: NewJWT: no key can verify any of the algorithms in WithAlgorithms"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	popts := []jwt.ParserOption{
		jwt.WithValidMethods(c.algs),
		jwt.WithLeeway(c.leeway),
	}
	if !c.noExpRequired {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	if c.issuer != "" {
		popts = append(popts, jwt.WithIssuer(c.issuer))
	}
	if len(c.audience) > 0 {
		popts = append(popts, jwt.WithAudience(c.audience...))
	}
	if c.timeFunc != nil {
		popts = append(popts, jwt.WithTimeFunc(c.timeFunc))
	}
	j := &JWT{
		parser:       jwt.NewParser(popts...),
		algs:         c.algs,
		maxTokenSize: c.maxTokenSize,
		realm:        c.realm,
		tenantClaim:  c.tenantClaim,
		rolesClaim:   c.rolesClaim,
		typeClaim:    c.typeClaim,
		principal:    c.principalFunc,
	}
	if len(static.byKID) > 0 {
		static.seal()
		j.static = static
	}
	b := []byte("Bearer")
	if c.realm != "" {
		b = append(b, " realm="...)
		b = httpx.AppendQuoted(b, c.realm)
	}
	j.challenge = string(b)
	if c.jwksURL != "" {
		src, err := newJWKSSource(&cfg)
		if err != nil {
			return nil, err
		}
		j.jwks = src
	}
	j.verifiers.New = func() any {
		v := &verifier{j: j}
		v.keyfunc = v.key
		return v
	}
	return j, nil
}

// Close stops the key set's background work and releases its cache. It
// is a no-op for a JWT with static keys only. Authenticate after Close
// still uses the keys already fetched.
func (j *JWT) Close() error {
	if j == nil || j.jwks == nil {
		return nil
	}
	return j.jwks.close()
}

// verifier carries one verification's context to the key function, which
// jwt.Parser calls without one. Verifiers are pooled, so that the key
// function is bound once, not per request.
type verifier struct {
	j       *JWT
	ctx     context.Context
	keyfunc jwt.Keyfunc
}

var (
	errAuthzHeaderRepeated = invalid("more than one Authorization header")
	errBearerMalformed     = invalid("malformed bearer token")
	errTokenTooLarge       = invalid("token too large")
	errTokenMalformed      = invalid("malformed token")
	errAlgNotAllowed       = invalid("algorithm not allowed")
	errKIDNotString        = invalid("key id is not a string")
	errCritHeader          = invalid("unsupported critical header")
	errKIDUnknown          = invalid("unknown key id")
	errKeyAlgMismatch      = invalid("key not allowed for the algorithm")
	errSignatureInvalid    = invalid("invalid signature")
	errTokenExpired        = invalid("token expired")
	errTokenNotYetValid    = invalid("token not valid yet")
	errTokenIssuer         = invalid("wrong issuer")
	errTokenAudience       = invalid("wrong audience")
	errTokenClaimMissing   = invalid("required claim missing")
	errTokenIssuedAt       = invalid("token used before issued")
	errTokenClaims         = invalid("invalid claims")
	errTokenNoSubject      = invalid("token has no subject")
	errTokenInvalid        = invalid("invalid token")
	errKeySetUnavailable   = newCredentialError("key set unavailable", "token could not be verified", nil)
)

// Authenticate verifies the request's bearer token and returns its
// Principal. See JWT for the errors. A nil *JWT finds no credentials.
func (j *JWT) Authenticate(ctx context.Context, h Headers) (*Principal, error) {
	if j == nil {
		return nil, ErrNoCredentials
	}
	token, err := j.bearer(h)
	if err != nil {
		return nil, err
	}
	v := j.verifiers.Get().(*verifier)
	v.ctx = ctx
	claims := jwt.MapClaims{}
	tok, err := j.parser.ParseWithClaims(token, claims, v.keyfunc)
	v.ctx = nil
	j.verifiers.Put(v)
	if err != nil {
		return nil, j.parseError(tok, err)
	}
	return j.toPrincipal(claims)
}

// bearer returns the token of the request's Authorization header, or
// ErrNoCredentials when there is none or it has another scheme.
func (j *JWT) bearer(h Headers) (string, error) {
	v := h.Get("Authorization")
	if v == "" {
		return "", ErrNoCredentials
	}
	// RFC 9110 section 11.4: credentials = auth-scheme [ 1*SP token68 ],
	// the scheme case-insensitive.
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	if hv, ok := h.(valuer); ok && len(hv.Values("Authorization")) > 1 {
		return "", errAuthzHeaderRepeated
	}
	token := strings.TrimLeft(rest, " ")
	if len(token) > j.maxTokenSize {
		return "", errTokenTooLarge
	}
	if token == "" {
		return "", errBearerMalformed
	}
	if !jwsCompact(token) {
		return "", errTokenMalformed
	}
	return token, nil
}

// jwsCompact reports whether s has the shape of a JWS in compact
// serialization: three non-empty base64url parts separated by two dots
// (RFC 7515 section 7.1). It bounds the work a hostile header can cause
// before anything is decoded.
func jwsCompact(s string) bool {
	dots, last := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == last+1 || dots == 2 {
				return false
			}
			dots++
			last = i
		default:
			return false
		}
	}
	return dots == 2 && last < len(s)-1
}

// key is the jwt.Keyfunc: the key of the token's kid, bound to its
// algorithm.
func (v *verifier) key(t *jwt.Token) (any, error) {
	// RFC 7515 section 4.1.11: extensions listed in crit must be
	// understood, and none are here.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritHeader
	}
	alg := t.Method.Alg()
	kid := ""
	if k, ok := t.Header["kid"]; ok {
		s, ok := k.(string)
		if !ok {
			return nil, errKIDNotString
		}
		kid = s
	}
	j := v.j
	var k *verifyKey
	if j.static != nil {
		k = j.static.find(kid)
	}
	if k == nil && j.jwks != nil {
		set, err := j.jwks.get(v.ctx)
		if err != nil {
			return nil, errKeySetUnavailable
		}
		if k = set.find(kid); k == nil {
			if set = j.jwks.refetch(v.ctx, set); set != nil {
				k = set.find(kid)
			}
		}
	}
	if k == nil {
		return nil, errKIDUnknown
	}
	if !k.allows(alg) {
		return nil, errKeyAlgMismatch
	}
	return k.key, nil
}

// parseError maps an error of jwt.Parser to the reason it is logged with.
func (j *JWT) parseError(tok *jwt.Token, err error) error {
	if ce, ok := errors.AsType[*credentialError](err); ok {
		return ce // from the key function
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errTokenMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An alg golang-jwt does not know, or none at all.
		return errAlgNotAllowed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok == nil || tok.Method == nil || !slices.Contains(j.algs, tok.Method.Alg()) {
			return errAlgNotAllowed
		}
		return errSignatureInvalid
	case errors.Is(err, jwt.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errTokenIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errTokenAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errTokenClaimMissing
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errTokenIssuedAt
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return errTokenClaims
	}
	return errTokenInvalid
}

// toPrincipal maps verified claims to the caller.
func (j *JWT) toPrincipal(claims jwt.MapClaims) (*Principal, error) {
	if j.principal != nil {
		p, err := j.principal(claims)
		switch {
		case err != nil:
			return nil, newCredentialError("claims rejected", "token rejected", err)
		case p == nil:
			return nil, newCredentialError("claims rejected", "token rejected", nil)
		}
		if p.Scheme == "" {
			cp := *p
			cp.Scheme = "bearer"
			p = &cp
		}
		return p, nil
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, errTokenNoSubject
	}
	p := &Principal{ID: sub, Type: "user", Scheme: "bearer", Claims: claims}
	if j.typeClaim != "" {
		if s, ok := claims[j.typeClaim].(string); ok && s != "" {
			p.Type = s
		}
	}
	if j.tenantClaim != "" {
		p.Tenant, _ = claims[j.tenantClaim].(string)
	}
	if j.rolesClaim != "" {
		p.Roles = claimStrings(claims[j.rolesClaim])
	}
	if s := claimStrings(claims["scope"]); s != nil {
		p.Scopes = s
	} else {
		p.Scopes = claimStrings(claims["scp"])
	}
	return p, nil
}

// claimStrings reads a claim that lists strings: a JSON array of strings,
// or one string of space-separated values (as OAuth's scope, RFC 8693
// section 4.2). Other values and non-string elements are ignored.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if f := strings.Fields(v); len(f) > 0 {
			return f
		}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// Challenge returns the Bearer challenge of RFC 6750 section 3:
// `Bearer realm="api"` when there was no token (no error information, as
// section 3.1 asks), and for an invalid one
// `Bearer realm="api", error="invalid_token", error_description="token expired"`.
// The description is one of a fixed set of reasons and never quotes the
// token. Without WithRealm there is no realm parameter.
func (j *JWT) Challenge(err error) string {
	if j == nil {
		return ""
	}
	ce, ok := errors.AsType[*credentialError](err)
	if !ok {
		return j.challenge
	}
	b := make([]byte, 0, 96)
	b = append(b, j.challenge...)
	if j.realm != "" {
		b = append(b, ',')
	}
	b = append(b, ` error="invalid_token"`...)
	if ce.desc != "" {
		b = append(b, `, error_description=`...)
		b = httpx.AppendQuoted(b, ce.desc)
	}
	return string(b)
}

// WithAlgorithms sets the JWS algorithms (RFC 7518 names, such as "RS256",
// "ES256", "EdDSA", "HS256") NewJWT accepts; a token with any other alg is
// refused. It is required: accepting whatever a token names is how the
// classic algorithm-confusion attacks work. "none" is never accepted, and
// an algorithm golang-jwt does not implement is an error.
func WithAlgorithms(algs ...string) Option {
	return newOption("WithAlgorithms", forJWT, func(c *config) error {
		if len(algs) == 0 {
			return errors.New("authz: WithAlgorithms: no algorithms")
		}
		for _, a := range algs {
			if a == "none" || strings.EqualFold(a, "none") {
				return errors.New(`authz: WithAlgorithms: "none" is never allowed`)
			}
			if jwt.GetSigningMethod(a) == nil || algFamily(a) == famNone {
				return errors.New("authz: WithAlgorithms: unknown algorithm " + strconv.Quote(a))
			}
			if !slices.Contains(c.jwt.algs, a) {
				c.jwt.algs = append(c.jwt.algs, a)
			}
		}
		return nil
	})
}

// WithIssuer requires tokens' iss claim to be iss. The default is not to
// check the issuer; set it whenever a key set may sign for more than one
// issuer.
func WithIssuer(iss string) Option {
	return newOption("WithIssuer", forJWT, func(c *config) error {
		if iss == "" {
			return errors.New("authz: WithIssuer: empty issuer")
		}
		c.jwt.issuer = iss
		return nil
	})
}

// WithAudience requires tokens' aud claim to name one of aud (RFC 7519
// section 4.1.3), such as this API's identifier. The default is not to
// check the audience.
func WithAudience(aud ...string) Option {
	return newOption("WithAudience", forJWT, func(c *config) error {
		if len(aud) == 0 || slices.Contains(aud, "") {
			return errors.New("authz: WithAudience: empty audience")
		}
		c.jwt.audience = append(c.jwt.audience, aud...)
		return nil
	})
}

// WithLeeway sets the clock skew allowed when checking exp, nbf and iat
// (default 0). It must not be negative.
func WithLeeway(d time.Duration) Option {
	return newOption("WithLeeway", forJWT, func(c *config) error {
		if d < 0 {
			return errors.New("authz: WithLeeway: negative leeway")
		}
		c.jwt.leeway = d
		return nil
	})
}

// WithTimeFunc sets the clock tokens' exp and nbf are checked against
// (default time.Now), for tests.
func WithTimeFunc(now func() time.Time) Option {
	return newOption("WithTimeFunc", forJWT, func(c *config) error {
		if now == nil {
			return errors.New("authz: WithTimeFunc: nil function")
		}
		c.jwt.timeFunc = now
		return nil
	})
}

// WithExpirationRequired(false) accepts tokens without an exp claim. By
// default a token without exp is refused ("required claim missing"): a
// token that never expires cannot be taken back.
func WithExpirationRequired(required bool) Option {
	return newOption("WithExpirationRequired", forJWT, func(c *config) error {
		c.jwt.noExpRequired = !required
		return nil
	})
}

// WithMaxTokenSize sets the longest token accepted, in bytes (default
// DefaultMaxTokenSize, 8 KiB).
func WithMaxTokenSize(n int) Option {
	return newOption("WithMaxTokenSize", forJWT, func(c *config) error {
		if n <= 0 {
			return errors.New("authz: WithMaxTokenSize: size must be positive")
		}
		c.jwt.maxTokenSize = n
		return nil
	})
}

// WithTenantClaim names the string claim that becomes Principal.Tenant
// (default "tenant"); "" maps none.
func WithTenantClaim(name string) Option {
	return newOption("WithTenantClaim", forJWT, func(c *config) error {
		c.jwt.tenantClaim = name
		return nil
	})
}

// WithRolesClaim names the claim that becomes Principal.Roles (default
// "roles"): an array of strings or one space-separated string; "" maps
// none.
func WithRolesClaim(name string) Option {
	return newOption("WithRolesClaim", forJWT, func(c *config) error {
		c.jwt.rolesClaim = name
		return nil
	})
}

// WithTypeClaim names the string claim that becomes Principal.Type, such
// as a claim that says "service" for client-credentials tokens. By default,
// and when the claim is absent, the Type is "user".
func WithTypeClaim(name string) Option {
	return newOption("WithTypeClaim", forJWT, func(c *config) error {
		c.jwt.typeClaim = name
		return nil
	})
}

// WithPrincipalFunc replaces the mapping from a verified token's claims to
// its Principal. By default sub is the ID (a token without sub is
// refused), the type is "user" (see WithTypeClaim), WithTenantClaim and
// WithRolesClaim name the tenant and roles, scope (space-separated) or
// else scp (an array) are the Scopes, and Claims holds every claim, those
// mapped included. fn runs after the token is verified; an error or a nil
// Principal refuses the token, with fn's error wrapped for logs. An empty
// Scheme becomes "bearer". fn must be safe for concurrent use and must
// not keep claims past the Principal it returns.
func WithPrincipalFunc(fn func(claims jwt.MapClaims) (*Principal, error)) Option {
	return newOption("WithPrincipalFunc", forJWT, func(c *config) error {
		if fn == nil {
			return errors.New("authz: WithPrincipalFunc: nil function")
		}
		c.jwt.principalFunc = fn
		return nil
	})
}
