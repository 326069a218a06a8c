package authz_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-go/paved/authz"
)

func TestFirst(t *testing.T) {
	jwtAuth := newJWT(t, authz.WithRealm("api"))
	keys := newAPIKeys(t, authz.WithRealm("api"))
	a := authz.First(nil, jwtAuth, keys)
	good := sign(t, jwt.SigningMethodHS256, hmacK, "hmac", claims())
	expired := sign(t, jwt.SigningMethodHS256, hmacK, "hmac", claims("exp", t0.Add(-time.Hour).Unix()))
	both := http.Header{"Authorization": {"Bearer " + expired}, "X-Api-Key": {aliceKey}}
	tests := []struct {
		name      string
		h         http.Header
		id        string
		reason    string // "" with no id: ErrNoCredentials
		challenge string
	}{
		{"bearer", bearer(good), "alice", "", ""},
		{"api key", keyHeader(bobKey), "bob", "", ""},
		{"neither", http.Header{}, "", "",
			`Bearer realm="api", ApiKey realm="api", header="X-API-Key"`},
		{"basic only", http.Header{"Authorization": {"Basic eDp5"}}, "", "",
			`Bearer realm="api", ApiKey realm="api", header="X-API-Key"`},
		// The first authenticator that finds its credential decides: a bad
		// token is not rescued by a good key.
		{"bad bearer and good key", both, "", "token expired",
			`Bearer realm="api", error="invalid_token", error_description="token expired"`},
		{"unknown key", keyHeader("nope"), "", "unknown API key", `ApiKey realm="api", header="X-API-Key"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), tc.h)
			switch {
			case tc.id != "":
				if err != nil || p.ID != tc.id {
					t.Fatalf("Authenticate = %+v, %v; want %s", p, err, tc.id)
				}
				return
			case tc.reason == "":
				if err != authz.ErrNoCredentials {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
			default:
				if !errors.Is(err, authz.ErrUnauthenticated) || !strings.HasSuffix(err.Error(), tc.reason) {
					t.Fatalf("err = %v, want reason %q", err, tc.reason)
				}
			}
			if got := a.Challenge(err); got != tc.challenge {
				t.Errorf("Challenge = %s\nwant        %s", got, tc.challenge)
			}
		})
	}
}

func TestFirstNested(t *testing.T) {
	inner := authz.First(newAPIKeys(t))
	a := authz.First(newJWT(t), inner)
	_, err := a.Authenticate(context.Background(), keyHeader("nope"))
	if got, want := a.Challenge(err), `ApiKey header="X-API-Key"`; got != want {
		t.Errorf("Challenge = %s, want %s", got, want)
	}
}

func TestFirstOfNothing(t *testing.T) {
	for _, a := range []authz.Authenticator{authz.First(), authz.First(nil, nil)} {
		p, err := a.Authenticate(context.Background(), keyHeader(aliceKey))
		if p != nil || err != authz.ErrNoCredentials {
			t.Errorf("Authenticate = %v, %v", p, err)
		}
		if c := a.Challenge(err); c != "" {
			t.Errorf("Challenge = %q", c)
		}
	}
}
