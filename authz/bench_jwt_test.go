package authz_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-go/paved/authz"
)

// BenchmarkJWT verifies the same token with golang-jwt's own jwt.Parse
// (raw: a key function that returns the key) and with JWT.Authenticate
// (paved: the bearer header, the key found by kid and bound to the
// algorithm, issuer, audience and expiry checked, the Principal built).
func BenchmarkJWT(b *testing.B) {
	exp := time.Now().Add(time.Hour).Unix()
	c := jwt.MapClaims{"iss": "https://idp.test", "aud": "api", "sub": "alice", "exp": exp,
		"tenant": "c1", "roles": []any{"admin"}, "scope": "read write"}
	for _, tc := range []struct {
		name   string
		method jwt.SigningMethod
		priv   any
		pub    any
	}{
		{"RS256", jwt.SigningMethodRS256, rsaKey(), &rsaKey().PublicKey},
		{"ES256", jwt.SigningMethodES256, ecKey(), &ecKey().PublicKey},
	} {
		tok := sign(b, tc.method, tc.priv, "k1", c)
		b.Run(tc.name+"/raw", func(b *testing.B) {
			keyfunc := func(*jwt.Token) (any, error) { return tc.pub, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Parse(tok, keyfunc, jwt.WithValidMethods([]string{tc.method.Alg()})); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/paved", func(b *testing.B) {
			j, err := authz.NewJWT(authz.WithAlgorithms(tc.method.Alg()), authz.WithKey("k1", tc.pub),
				authz.WithIssuer("https://idp.test"), authz.WithAudience("api"))
			if err != nil {
				b.Fatal(err)
			}
			h := http.Header{"Authorization": {"Bearer " + tok}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := j.Authenticate(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAPIKeys: a known key in NewAPIKeys' map.
func BenchmarkAPIKeys(b *testing.B) {
	a, err := authz.NewAPIKeys(map[string]*authz.Principal{aliceKey: {ID: "alice"}})
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{"X-Api-Key": {aliceKey}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}
