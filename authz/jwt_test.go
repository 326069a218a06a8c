package authz_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-go/paved/authz"
)

// Test keys are fixed PEM files, so that no test waits for an RSA key to
// be generated (slow under -race).
var (
	rsaKey = sync.OnceValue(func() *rsa.PrivateKey { return loadKey("testdata/jwt/rsa.pem").(*rsa.PrivateKey) })
	ecKey  = sync.OnceValue(func() *ecdsa.PrivateKey { return loadKey("testdata/jwt/ec.pem").(*ecdsa.PrivateKey) })
	edKey  = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	hmacK  = []byte("0123456789abcdef0123456789abcdef")
)

func loadKey(path string) crypto.PrivateKey {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	return k
}

// t0 is the time tokens are checked at, through WithTimeFunc.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return t0 }

// claims returns valid claims for the tests' issuer and audience.
func claims(extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":    "https://idp.test",
		"aud":    "api",
		"sub":    "alice",
		"exp":    t0.Add(time.Hour).Unix(),
		"nbf":    t0.Add(-time.Minute).Unix(),
		"tenant": "c1",
		"roles":  []any{"admin", "ops"},
		"scope":  "read write",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
			continue
		}
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

// sign makes a token; header entries override the default ones (a nil
// value deletes).
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims, header ...any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == nil {
			delete(tok.Header, header[i].(string))
			continue
		}
		tok.Header[header[i].(string)] = header[i+1]
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawToken assembles a token from a header, claims and signature, without
// signing.
func rawToken(header, payload map[string]any, sig string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + sig
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// newJWT returns a JWT with the test keys: "rsa", "ec", "ed", "hmac".
func newJWT(t testing.TB, opts ...authz.Option) *authz.JWT {
	t.Helper()
	base := []authz.Option{
		authz.WithAlgorithms("RS256", "ES256", "EdDSA", "HS256"),
		authz.WithKey("rsa", &rsaKey().PublicKey),
		authz.WithKey("ec", &ecKey().PublicKey),
		authz.WithKey("ed", edKey.Public()),
		authz.WithKey("hmac", hmacK),
		authz.WithIssuer("https://idp.test"),
		authz.WithAudience("api"),
		authz.WithTimeFunc(fixedClock),
	}
	j, err := authz.NewJWT(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestJWTValid(t *testing.T) {
	j := newJWT(t)
	tests := []struct {
		name  string
		token func() string
	}{
		{"RS256", func() string { return sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims()) }},
		{"ES256", func() string { return sign(t, jwt.SigningMethodES256, ecKey(), "ec", claims()) }},
		{"EdDSA", func() string { return sign(t, jwt.SigningMethodEdDSA, edKey, "ed", claims()) }},
		{"HS256", func() string { return sign(t, jwt.SigningMethodHS256, hmacK, "hmac", claims()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := j.Authenticate(context.Background(), bearer(tc.token()))
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != "alice" || p.Type != "user" || p.Tenant != "c1" || p.Scheme != "bearer" ||
				!slices.Equal(p.Roles, []string{"admin", "ops"}) || !slices.Equal(p.Scopes, []string{"read", "write"}) ||
				p.Claims["iss"] != "https://idp.test" {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestJWTBearerSchemeIsCaseInsensitive(t *testing.T) {
	j := newJWT(t)
	tok := sign(t, jwt.SigningMethodES256, ecKey(), "ec", claims())
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if _, err := j.Authenticate(context.Background(), http.Header{"Authorization": {scheme + " " + tok}}); err != nil {
			t.Errorf("%s: %v", scheme, err)
		}
	}
}

func TestJWTClaimsMapping(t *testing.T) {
	tests := []struct {
		name   string
		opts   []authz.Option
		claims jwt.MapClaims
		check  func(*authz.Principal) bool
	}{
		{"scp array", nil, claims("scope", nil, "scp", []any{"a", "b"}),
			func(p *authz.Principal) bool { return slices.Equal(p.Scopes, []string{"a", "b"}) }},
		{"roles as string", nil, claims("roles", "x y"),
			func(p *authz.Principal) bool { return slices.Equal(p.Roles, []string{"x", "y"}) }},
		{"tenant claim", []authz.Option{authz.WithTenantClaim("compartment")}, claims("compartment", "c9"),
			func(p *authz.Principal) bool { return p.Tenant == "c9" }},
		{"roles claim", []authz.Option{authz.WithRolesClaim("groups")}, claims("groups", []any{"g"}),
			func(p *authz.Principal) bool { return slices.Equal(p.Roles, []string{"g"}) }},
		{"type claim", []authz.Option{authz.WithTypeClaim("typ")}, claims("typ", "service"),
			func(p *authz.Principal) bool { return p.Type == "service" }},
		{"principal func", []authz.Option{authz.WithPrincipalFunc(func(c jwt.MapClaims) (*authz.Principal, error) {
			return &authz.Principal{ID: "custom:" + c["sub"].(string)}, nil
		})}, claims(), func(p *authz.Principal) bool { return p.ID == "custom:alice" && p.Scheme == "bearer" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJWT(t, tc.opts...)
			p, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, hmacK, "hmac", tc.claims)))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestJWTRejected(t *testing.T) {
	j := newJWT(t)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	good := sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims())
	parts := strings.Split(good, ".")
	expired := sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("exp", t0.Add(-time.Hour).Unix()))
	ep := strings.Split(expired, ".")

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"expired", expired, "token expired"},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("nbf", t0.Add(time.Hour).Unix())), "token not valid yet"},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("iss", "https://evil.test")), "wrong issuer"},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("aud", "other")), "wrong audience"},
		{"no exp", sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("exp", nil)), "required claim missing"},
		{"no sub", sign(t, jwt.SigningMethodRS256, rsaKey(), "rsa", claims("sub", nil)), "token has no subject"},
		{"alg none", rawToken(map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa"}, claims(), "e30"), "algorithm not allowed"},
		{"alg none unsigned", rawToken(map[string]any{"alg": "none"}, claims(), ""), "malformed token"},
		{"alg unknown", rawToken(map[string]any{"alg": "XX512", "kid": "rsa"}, claims(), "e30"), "algorithm not allowed"},
		{"alg missing", rawToken(map[string]any{"kid": "rsa"}, claims(), "e30"), "algorithm not allowed"},
		{"alg not configured", sign(t, jwt.SigningMethodRS384, rsaKey(), "rsa", claims()), "algorithm not allowed"},
		// The classic confusion: HS256 "signed" with the RSA public key's
		// bytes, naming the RSA key. The RSA key must never be an HMAC
		// secret.
		{"HMAC with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPEM, "rsa", claims()), "key not allowed for the algorithm"},
		{"HMAC with the RSA public key, no kid", sign(t, jwt.SigningMethodHS256, rsaPEM, "", claims()), "unknown key id"},
		{"RS256 naming the HMAC key", sign(t, jwt.SigningMethodRS256, rsaKey(), "hmac", claims()), "key not allowed for the algorithm"},
		{"ES256 naming the RSA key", sign(t, jwt.SigningMethodES256, ecKey(), "rsa", claims()), "key not allowed for the algorithm"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), "invalid signature"},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(claims("sub", "root"))) + "." + parts[2], "invalid signature"},
		// Signature first: an expired token with a bad signature is an
		// invalid signature, not merely expired.
		{"expired with bad signature", ep[0] + "." + ep[1] + "." + flip(ep[2]), "invalid signature"},
		{"signed by another key", sign(t, jwt.SigningMethodES256, mustEC(t), "ec", claims()), "invalid signature"},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, rsaKey(), "nope", claims()), "unknown key id"},
		{"kid with path characters", sign(t, jwt.SigningMethodRS256, rsaKey(), "../../etc/passwd", claims()), "unknown key id"},
		{"kid with SQL", sign(t, jwt.SigningMethodRS256, rsaKey(), "x' OR '1'='1", claims()), "unknown key id"},
		{"kid not a string", sign(t, jwt.SigningMethodRS256, rsaKey(), "", claims(), "kid", 7), "key id is not a string"},
		{"two parts", parts[0] + "." + parts[1], "malformed token"},
		{"four parts", good + ".x", "malformed token"},
		{"empty part", parts[0] + ".." + parts[2], "malformed token"},
		{"thousands of dots", strings.Repeat(".", 5000), "malformed token"},
		{"not base64url", parts[0] + "." + parts[1] + "." + parts[2] + "+/", "malformed token"},
		{"header not JSON", "eyJub3Q." + parts[1] + "." + parts[2], "malformed token"},
		{"too large", strings.Repeat("a", authz.DefaultMaxTokenSize+1), "token too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := j.Authenticate(context.Background(), bearer(tc.token))
			if p != nil || !errors.Is(err, authz.ErrUnauthenticated) {
				t.Fatalf("Authenticate = %v, %v; want ErrUnauthenticated", p, err)
			}
			if !strings.HasSuffix(err.Error(), ": "+tc.reason) {
				t.Errorf("error = %q, want reason %q", err, tc.reason)
			}
			if len(tc.token) > 8 && strings.Contains(err.Error(), tc.token[len(tc.token)-8:]) {
				t.Errorf("error %q quotes the token", err)
			}
			ch := j.Challenge(err)
			if !strings.Contains(ch, `error="invalid_token"`) || strings.Contains(ch, tc.token[:min(len(tc.token), 16)]) && len(tc.token) >= 16 {
				t.Errorf("challenge = %q", ch)
			}
		})
	}
}

func flip(sig string) string {
	b := []byte(sig)
	if b[3] == 'A' {
		b[3] = 'B'
	} else {
		b[3] = 'A'
	}
	return string(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTHeaderErrors(t *testing.T) {
	j := newJWT(t)
	tok := sign(t, jwt.SigningMethodES256, ecKey(), "ec", claims())
	tests := []struct {
		name   string
		h      http.Header
		reason string // "" for ErrNoCredentials
	}{
		{"no header", http.Header{}, ""},
		{"empty header", http.Header{"Authorization": {""}}, ""},
		{"basic", http.Header{"Authorization": {"Basic YTpi"}}, ""},
		{"api key scheme", http.Header{"Authorization": {"ApiKey k"}}, ""},
		{"bearer without token", http.Header{"Authorization": {"Bearer"}}, "malformed bearer token"},
		{"bearer and spaces", http.Header{"Authorization": {"Bearer   "}}, "malformed bearer token"},
		{"two tokens", http.Header{"Authorization": {"Bearer " + tok + " " + tok}}, "malformed token"},
		{"two headers", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, "more than one Authorization header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Authenticate(context.Background(), tc.h)
			if tc.reason == "" {
				if err != authz.ErrNoCredentials {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
				return
			}
			if !errors.Is(err, authz.ErrUnauthenticated) || !strings.HasSuffix(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
		})
	}
}

func TestJWTLeeway(t *testing.T) {
	c := claims("exp", t0.Add(-10*time.Second).Unix())
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		ok     bool
	}{{"none", 0, false}, {"30s", 30 * time.Second, true}} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJWT(t, authz.WithLeeway(tc.leeway))
			_, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, hmacK, "hmac", c)))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestJWTExpirationOptional(t *testing.T) {
	j := newJWT(t, authz.WithExpirationRequired(false))
	if _, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, hmacK, "hmac", claims("exp", nil)))); err != nil {
		t.Fatal(err)
	}
}

// TestJWTKeyHeadersIgnored: jku, x5u and jwk name keys or key URLs in the
// token itself; following them lets the token choose its own key.
func TestJWTKeyHeadersIgnored(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(jwksOf(t, "evil", &mustEC(t).PublicKey, ""))
	}))
	defer srv.Close()
	attacker := mustEC(t)
	attackerJWK := json.RawMessage(jwksOf(t, "evil", &attacker.PublicKey, ""))
	j := newJWT(t)
	tests := []struct {
		name   string
		header []any
	}{
		{"jku", []any{"jku", srv.URL + "/jwks"}},
		{"x5u", []any{"x5u", srv.URL + "/cert"}},
		{"jwk", []any{"jwk", attackerJWK}},
		{"all", []any{"jku", srv.URL, "x5u", srv.URL, "jwk", attackerJWK}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, kid := range []string{"evil", "ec"} {
				tok := sign(t, jwt.SigningMethodES256, attacker, kid, claims(), tc.header...)
				if _, err := j.Authenticate(context.Background(), bearer(tok)); !errors.Is(err, authz.ErrUnauthenticated) {
					t.Fatalf("kid %s: err = %v, want ErrUnauthenticated", kid, err)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests to URLs named in tokens", n)
	}
}

// TestJWTOpaqueKID: a kid is a map key, whatever characters it has.
func TestJWTOpaqueKID(t *testing.T) {
	for _, kid := range []string{"../../etc/passwd", "x' OR '1'='1; --", "%00\\/", "ключ"} {
		j := newJWT(t, authz.WithKey(kid, &rsaKey().PublicKey))
		if _, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodRS256, rsaKey(), kid, claims()))); err != nil {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
}

// TestJWTDotsBoundedWork: a header of dots is refused before any decoding,
// without allocating per dot.
func TestJWTDotsBoundedWork(t *testing.T) {
	j := newJWT(t)
	h := bearer(strings.Repeat(".", authz.DefaultMaxTokenSize))
	h2 := bearer(strings.Repeat("a.", authz.DefaultMaxTokenSize/2-1) + "a")
	ctx := context.Background()
	for _, h := range []http.Header{h, h2} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := j.Authenticate(ctx, h); !errors.Is(err, authz.ErrUnauthenticated) {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("%v allocs for a token of dots", allocs)
		}
	}
}

func TestJWTChallenge(t *testing.T) {
	tok := sign(t, jwt.SigningMethodHS256, hmacK, "hmac", claims("exp", t0.Add(-time.Hour).Unix()))
	tests := []struct {
		name  string
		opts  []authz.Option
		h     http.Header
		want  string
		want2 string // with no credentials
	}{
		{"no realm", nil, bearer(tok),
			`Bearer error="invalid_token", error_description="token expired"`, `Bearer`},
		{"realm", []authz.Option{authz.WithRealm(`my "api"`)}, bearer(tok),
			`Bearer realm="my \"api\"", error="invalid_token", error_description="token expired"`, `Bearer realm="my \"api\""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJWT(t, tc.opts...)
			_, err := j.Authenticate(context.Background(), tc.h)
			if got := j.Challenge(err); got != tc.want {
				t.Errorf("Challenge = %s, want %s", got, tc.want)
			}
			if got := j.Challenge(authz.ErrNoCredentials); got != tc.want2 {
				t.Errorf("Challenge(ErrNoCredentials) = %s, want %s", got, tc.want2)
			}
		})
	}
}

func TestNewJWTErrors(t *testing.T) {
	weak := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537}
	keys := authz.WithKey("k", hmacK)
	tests := []struct {
		name string
		opts []authz.Option
		want string
	}{
		{"no algorithms", []authz.Option{keys}, "no WithAlgorithms"},
		{"none", []authz.Option{authz.WithAlgorithms("none"), keys}, `"none" is never allowed`},
		{"NONE", []authz.Option{authz.WithAlgorithms("NONE"), keys}, `"none" is never allowed`},
		{"unknown alg", []authz.Option{authz.WithAlgorithms("XS256"), keys}, "unknown algorithm"},
		{"no keys", []authz.Option{authz.WithAlgorithms("HS256")}, "no keys"},
		{"short secret", []authz.Option{authz.WithAlgorithms("HS256"), authz.WithKey("k", []byte("short"))}, "shorter than 32 bytes"},
		{"weak RSA", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithKey("k", weak)}, "shorter than 2048 bits"},
		{"key of no algorithm", []authz.Option{authz.WithAlgorithms("RS256"), keys}, "no key can verify"},
		{"unsupported key", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithKey("k", "secret")}, "unsupported key type"},
		{"http JWKS", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithJWKS("http://idp.example/jwks")}, "must be https"},
		{"relative JWKS", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithJWKS("/jwks")}, "not an absolute URL"},
		{"bad key set", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithKeySet([]byte(`{"keys":[{"kty":"RSA"}]}`))}, "WithKeySet"},
		{"encryption key in set", []authz.Option{authz.WithAlgorithms("RS256"), authz.WithKeySet(jwksOf(t, "e", &rsaKey().PublicKey, "enc"))}, "use is not sig"},
		{"realm with newline", []authz.Option{authz.WithAlgorithms("HS256"), keys, authz.WithRealm("a\nb")}, "WithRealm"},
		{"API key option", []authz.Option{authz.WithAlgorithms("HS256"), keys, authz.WithKeyHeader("X-Key")}, "WithKeyHeader does not apply to NewJWT"},
		{"nil option", []authz.Option{authz.WithAlgorithms("HS256"), keys, nil}, "is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := authz.NewJWT(tc.opts...)
			if err == nil || j != nil {
				t.Fatalf("NewJWT = %v, %v; want an error", j, err)
			}
			if !strings.HasPrefix(err.Error(), "authz: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want %q", err, tc.want)
			}
		})
	}
}

// TestJWKBinding: a JWK's alg limits its key to that algorithm.
func TestJWKBinding(t *testing.T) {
	j, err := authz.NewJWT(authz.WithAlgorithms("RS256", "PS256"),
		authz.WithKeySet(jwksOfAlg(t, "r", &rsaKey().PublicKey, "RS256")), authz.WithTimeFunc(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodRS256, rsaKey(), "r", claims()))); err != nil {
		t.Fatal(err)
	}
	_, err = j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodPS256, rsaKey(), "r", claims())))
	if err == nil || !strings.HasSuffix(err.Error(), "key not allowed for the algorithm") {
		t.Fatalf("PS256 with an RS256 JWK: %v", err)
	}
}

// FuzzJWT feeds arbitrary Authorization values through the token parsing
// path: no panic, and every answer is a Principal or one of the two errors.
func FuzzJWT(f *testing.F) {
	j := newJWT(f)
	f.Add("Bearer " + sign(f, jwt.SigningMethodHS256, hmacK, "hmac", claims()))
	f.Add("Bearer " + sign(f, jwt.SigningMethodES256, ecKey(), "ec", claims()))
	f.Add("Bearer " + rawToken(map[string]any{"alg": "none"}, claims(), ""))
	f.Add("Bearer " + strings.Repeat(".", 100))
	f.Add("bearer a.b.c")
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Add("Basic x")
	f.Fuzz(func(t *testing.T, v string) {
		p, err := j.Authenticate(context.Background(), http.Header{"Authorization": {v}})
		switch {
		case err == nil && p == nil:
			t.Fatal("nil principal without error")
		case err != nil && !errors.Is(err, authz.ErrNoCredentials) && !errors.Is(err, authz.ErrUnauthenticated):
			t.Fatalf("unexpected error %v", err)
		}
		_ = j.Challenge(err)
	})
}
