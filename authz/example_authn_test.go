package authz_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-go/paved/authz"
)

func ExampleNewAPIKeys() {
	keys, err := authz.NewAPIKeys(map[string]*authz.Principal{
		"ak_live_7f3b2c9d0e1a4b5c6d7e8f90a1b2c3d4": {ID: "billing", Type: "service", Tenant: "c1", Roles: []string{"reader"}},
	}, authz.WithRealm("api"),
		// A leaked key, revoked by its digest.
		authz.WithRevoked(sha256.Sum256([]byte("ak_live_leaked0000000000000000000000000"))))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	p, err := keys.Authenticate(ctx, http.Header{"X-Api-Key": {"ak_live_7f3b2c9d0e1a4b5c6d7e8f90a1b2c3d4"}})
	fmt.Println(p.ID, p.Type, p.Tenant, p.Roles, p.Scheme, err)

	_, err = keys.Authenticate(ctx, http.Header{"X-Api-Key": {"ak_live_leaked0000000000000000000000000"}})
	fmt.Println(err)
	fmt.Println("WWW-Authenticate:", keys.Challenge(err))

	_, err = keys.Authenticate(ctx, http.Header{})
	fmt.Println(err)
	// Output:
	// billing service c1 [reader] apikey <nil>
	// authz: unauthenticated: revoked API key: authz: credential revoked
	// WWW-Authenticate: ApiKey realm="api", header="X-API-Key"
	// authz: no credentials
}

func ExampleNewJWT() {
	// The identity provider's public keys, as its jwks_uri serves them.
	// WithJWKS(url) fetches and refreshes them instead.
	const jwks = `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":"2026-11",
		"x":"tWRphhJjcvaoJQKSn8eK3YuckrqLgB-d6caF3FlTwiU"}]}`
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	bearer, err := authz.NewJWT(
		authz.WithAlgorithms("EdDSA", "ES256", "RS256"),
		authz.WithKeySet([]byte(jwks)),
		authz.WithIssuer("https://idp.example"),
		authz.WithAudience("inventory-api"),
		authz.WithLeeway(30*time.Second),
		authz.WithRealm("inventory"),
		authz.WithTimeFunc(func() time.Time { return now }), // for the example's fixed tokens
	)
	if err != nil {
		panic(err)
	}
	defer bearer.Close()

	// What the identity provider would issue.
	idp := ed25519.NewKeyFromSeed([]byte("example seed, not a secret 32 b!"))
	issue := func(exp time.Time) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"iss": "https://idp.example", "aud": "inventory-api", "sub": "alice",
			"exp": exp.Unix(), "tenant": "c1", "roles": []string{"operator"}, "scope": "instances:read instances:write",
		})
		tok.Header["kid"] = "2026-11"
		s, err := tok.SignedString(idp)
		if err != nil {
			panic(err)
		}
		return s
	}
	ctx := context.Background()

	p, err := bearer.Authenticate(ctx, http.Header{"Authorization": {"Bearer " + issue(now.Add(time.Hour))}})
	fmt.Println(p.ID, p.Tenant, p.Roles, p.Scopes, p.Scheme, err)

	_, err = bearer.Authenticate(ctx, http.Header{"Authorization": {"Bearer " + issue(now.Add(-time.Hour))}})
	fmt.Println(err)
	fmt.Println("WWW-Authenticate:", bearer.Challenge(err))
	// Output:
	// alice c1 [operator] [instances:read instances:write] bearer <nil>
	// authz: unauthenticated: token expired
	// WWW-Authenticate: Bearer realm="inventory", error="invalid_token", error_description="token expired"
}

func ExampleFirst() {
	keys, _ := authz.NewAPIKeys(map[string]*authz.Principal{"ak_test_0123456789abcdef0123456789": {ID: "ci"}})
	bearer, _ := authz.NewJWT(authz.WithAlgorithms("HS256"), authz.WithKey("", []byte("a shared secret of at least 32 bytes")))
	auth := authz.First(bearer, keys)

	p, _ := auth.Authenticate(context.Background(), http.Header{"X-Api-Key": {"ak_test_0123456789abcdef0123456789"}})
	fmt.Println(p.ID, p.Scheme)

	_, err := auth.Authenticate(context.Background(), http.Header{})
	fmt.Println("WWW-Authenticate:", auth.Challenge(err))
	// Output:
	// ci apikey
	// WWW-Authenticate: Bearer, ApiKey header="X-API-Key"
}
