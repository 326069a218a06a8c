package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/ratelimit"
)

type principalKey struct{}

func principalID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(principalKey{}).(string)
	return id, ok
}

func TestKeyFuncs(t *testing.T) {
	errBoom := errors.New("boom")
	failing := ratelimit.KeyFunc(func(*http.Request) (string, error) { return "", errBoom })
	tests := []struct {
		name    string
		fn      ratelimit.KeyFunc
		header  http.Header
		ctx     context.Context
		pattern string
		want    string
		wantErr error
	}{
		{name: "header", fn: ratelimit.Header("x-tenant"), header: h("X-Tenant", "acme", "other"), want: "acme"},
		{name: "header missing", fn: ratelimit.Header("X-Tenant"), want: ""},
		{name: "API key header", fn: ratelimit.APIKey, header: h("X-API-Key", "k1"), want: "k1"},
		{name: "API key header wins over bearer", fn: ratelimit.APIKey, header: http.Header{"X-Api-Key": {"k1"}, "Authorization": {"Bearer t1"}}, want: "k1"},
		{name: "bearer token", fn: ratelimit.APIKey, header: h("Authorization", "bearer  t1 "), want: "t1"},
		{name: "basic auth is not an API key", fn: ratelimit.APIKey, header: h("Authorization", "Basic dTpw"), want: ""},
		{name: "bare bearer", fn: ratelimit.APIKey, header: h("Authorization", "Bearer "), want: ""},
		{name: "no API key", fn: ratelimit.APIKey, want: ""},
		{name: "route", fn: ratelimit.Route, pattern: "POST /instances", want: "POST /instances"},
		{name: "principal", fn: ratelimit.Principal(principalID), ctx: context.WithValue(context.Background(), principalKey{}, "user-7"), want: "user-7"},
		{name: "no principal", fn: ratelimit.Principal(principalID), want: ""},
		{name: "nil principal function finds none", fn: ratelimit.Principal(nil), ctx: context.WithValue(context.Background(), principalKey{}, "user-7"), want: ""},
		{name: "join", fn: ratelimit.Join(ratelimit.Route, ratelimit.APIKey), pattern: "GET /a", header: h("X-API-Key", "k1"), want: "GET /a\x00k1"},
		{name: "join with a missing part", fn: ratelimit.Join(ratelimit.Route, ratelimit.APIKey), pattern: "GET /a", want: ""},
		{name: "join with a failing part", fn: ratelimit.Join(ratelimit.Route, failing), pattern: "GET /a", wantErr: errBoom},
		{name: "join with a nil part", fn: ratelimit.Join(ratelimit.Route, nil), pattern: "GET /a", want: ""},
		{name: "client IP", fn: ratelimit.ClientIP, want: "192.0.2.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.ctx != nil {
				r = r.WithContext(tc.ctx)
			}
			if tc.header != nil {
				r.Header = tc.header
			}
			r.Pattern = tc.pattern
			got, err := tc.fn(r)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("key = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestJoinKeepsPartsApart(t *testing.T) {
	join := ratelimit.Join(ratelimit.Header("A"), ratelimit.Header("B"))
	r1 := httptest.NewRequest("GET", "/", nil)
	r1.Header = http.Header{"A": {"ab"}, "B": {"c"}}
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.Header = http.Header{"A": {"a"}, "B": {"bc"}}
	k1, _ := join(r1)
	k2, _ := join(r2)
	if k1 == k2 {
		t.Fatalf("(ab, c) and (a, bc) share the key %q", k1)
	}
}
