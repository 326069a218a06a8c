package authz_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/paved-go/paved/authz"
)

const (
	aliceKey = "ak_live_7f3b2c9d0e1a4b5c6d7e8f90a1b2c3d4"
	bobKey   = "ak_live_00000000000000000000000000000bob"
	oldKey   = "ak_live_revoked00000000000000000000000000"
)

func newAPIKeys(t *testing.T, opts ...authz.Option) *authz.APIKeys {
	t.Helper()
	a, err := authz.NewAPIKeys(map[string]*authz.Principal{
		aliceKey: {ID: "alice", Tenant: "c1", Roles: []string{"admin"}},
		bobKey:   {ID: "bob", Type: "service", Tenant: "c2"},
		oldKey:   {ID: "old"},
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func keyHeader(k string) http.Header { return http.Header{"X-Api-Key": {k}} }

func TestAPIKeys(t *testing.T) {
	a := newAPIKeys(t, authz.WithRevoked(sha256.Sum256([]byte(oldKey))))
	tests := []struct {
		name   string
		h      http.Header
		id     string // "" for an error
		reason string // "" for ErrNoCredentials
	}{
		{"alice", keyHeader(aliceKey), "alice", ""},
		{"bob", keyHeader(bobKey), "bob", ""},
		{"header name in any case", http.Header{"X-Api-Key": {aliceKey}}, "alice", ""},
		{"no header", http.Header{}, "", ""},
		{"bearer only", http.Header{"Authorization": {"Bearer x.y.z"}}, "", ""},
		{"unknown", keyHeader("ak_live_nope"), "", "unknown API key"},
		{"same length, one byte off", keyHeader(aliceKey[:len(aliceKey)-1] + "5"), "", "unknown API key"},
		{"prefix", keyHeader(aliceKey[:10]), "", "unknown API key"},
		{"revoked", keyHeader(oldKey), "", "revoked API key"},
		{"empty", http.Header{"X-Api-Key": {""}}, "", "empty API key"},
		{"oversize", keyHeader(strings.Repeat("k", authz.MaxAPIKeyLength+1)), "", "API key longer than 4096 bytes"},
		{"repeated", http.Header{"X-Api-Key": {aliceKey, bobKey}}, "", "more than one API key header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), tc.h)
			switch {
			case tc.id != "":
				if err != nil || p.ID != tc.id || p.Scheme != "apikey" {
					t.Fatalf("Authenticate = %+v, %v; want %s", p, err, tc.id)
				}
			case tc.reason == "":
				if err != authz.ErrNoCredentials {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
			default:
				if p != nil || !errors.Is(err, authz.ErrUnauthenticated) || !strings.HasSuffix(err.Error(), tc.reason) &&
					!strings.Contains(err.Error(), tc.reason+":") {
					t.Fatalf("Authenticate = %v, %v; want reason %q", p, err, tc.reason)
				}
				if v := tc.h.Get("X-Api-Key"); len(v) > 4 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q quotes the key", err)
				}
			}
		})
	}
}

func TestAPIKeysPrincipal(t *testing.T) {
	a := newAPIKeys(t)
	p, _ := a.Authenticate(context.Background(), keyHeader(aliceKey))
	if p.Type != "apikey" || p.Tenant != "c1" || !slices.Equal(p.Roles, []string{"admin"}) {
		t.Errorf("alice = %+v", p)
	}
	p, _ = a.Authenticate(context.Background(), keyHeader(bobKey))
	if p.Type != "service" {
		t.Errorf("bob = %+v", p)
	}
}

// TestAPIKeysRevokedLooksUnknown: the client cannot tell a revoked key
// from an unknown one; only the log can.
func TestAPIKeysRevokedLooksUnknown(t *testing.T) {
	a := newAPIKeys(t, authz.WithRevoked(sha256.Sum256([]byte(oldKey))), authz.WithRealm("api"))
	_, revoked := a.Authenticate(context.Background(), keyHeader(oldKey))
	_, unknown := a.Authenticate(context.Background(), keyHeader("ak_live_unknown"))
	if !errors.Is(revoked, authz.ErrRevoked) || errors.Is(unknown, authz.ErrRevoked) {
		t.Fatalf("revoked = %v, unknown = %v", revoked, unknown)
	}
	if a.Challenge(revoked) != a.Challenge(unknown) {
		t.Errorf("challenges differ: %q, %q", a.Challenge(revoked), a.Challenge(unknown))
	}
	if got, want := a.Challenge(unknown), `ApiKey realm="api", header="X-API-Key"`; got != want {
		t.Errorf("Challenge = %s, want %s", got, want)
	}
}

func TestAPIKeysLookup(t *testing.T) {
	store := map[[32]byte]*authz.Principal{
		sha256.Sum256([]byte("db-key-1")): {ID: "carol", Tenant: "c1"},
	}
	revoked := sha256.Sum256([]byte("db-key-revoked"))
	broken := sha256.Sum256([]byte("db-key-broken"))
	errStore := errors.New("store down")
	a, err := authz.NewAPIKeys(nil,
		authz.WithKeyHeader("X-Key"),
		authz.WithKeyLookup(func(ctx context.Context, d [32]byte) (*authz.Principal, error) {
			switch d {
			case revoked:
				return nil, authz.ErrRevoked
			case broken:
				return nil, errStore
			}
			return store[d], nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, id, reason string
	}{
		{"found", "db-key-1", "carol", ""},
		{"unknown", "db-key-2", "", "unknown API key"},
		{"revoked", "db-key-revoked", "", "revoked API key"},
		{"store error", "db-key-broken", "", "API key lookup failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), http.Header{"X-Key": {tc.key}})
			if tc.id != "" {
				if err != nil || p.ID != tc.id || p.Scheme != "apikey" {
					t.Fatalf("Authenticate = %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, authz.ErrUnauthenticated) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want %q", err, tc.reason)
			}
		})
	}
	// The store's error is kept for logs.
	_, err = a.Authenticate(context.Background(), http.Header{"X-Key": {"db-key-broken"}})
	if !errors.Is(err, errStore) {
		t.Errorf("err = %v, want it to wrap the store's error", err)
	}
	// The key is read from the configured header only.
	if _, err := a.Authenticate(context.Background(), keyHeader("db-key-1")); err != authz.ErrNoCredentials {
		t.Errorf("X-API-Key with WithKeyHeader(X-Key): %v", err)
	}
}

// TestAPIKeysOversizeNotHashed: an oversize key costs no allocation (and
// is refused before it is hashed).
func TestAPIKeysOversizeNotHashed(t *testing.T) {
	a := newAPIKeys(t)
	h := keyHeader(strings.Repeat("k", 1<<20))
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := a.Authenticate(context.Background(), h); !errors.Is(err, authz.ErrUnauthenticated) {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs", allocs)
	}
}

func TestAPIKeysHitAllocs(t *testing.T) {
	a := newAPIKeys(t)
	h := keyHeader(aliceKey)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := a.Authenticate(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per known key", allocs)
	}
}

func TestNewAPIKeysErrors(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]*authz.Principal
		opts []authz.Option
		want string
	}{
		{"no keys", nil, nil, "no keys and no WithKeyLookup"},
		{"empty key", map[string]*authz.Principal{"": {ID: "x"}}, nil, "empty key"},
		{"oversize key", map[string]*authz.Principal{strings.Repeat("k", authz.MaxAPIKeyLength+1): {ID: "x"}}, nil, "longer than"},
		{"nil principal", map[string]*authz.Principal{"k": nil}, nil, "nil Principal"},
		{"bad header", map[string]*authz.Principal{"k": {ID: "x"}}, []authz.Option{authz.WithKeyHeader("X Key")}, "invalid header name"},
		{"nil lookup", nil, []authz.Option{authz.WithKeyLookup(nil)}, "nil lookup"},
		{"JWT option", map[string]*authz.Principal{"k": {ID: "x"}}, []authz.Option{authz.WithIssuer("x")}, "WithIssuer does not apply to NewAPIKeys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := authz.NewAPIKeys(tc.keys, tc.opts...)
			if err == nil || a != nil {
				t.Fatalf("NewAPIKeys = %v, %v; want an error", a, err)
			}
			if !strings.HasPrefix(err.Error(), "authz: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), strings.Repeat("k", 20)) {
				t.Error("the error quotes a key")
			}
		})
	}
}

func FuzzAPIKey(f *testing.F) {
	a, err := authz.NewAPIKeys(map[string]*authz.Principal{aliceKey: {ID: "alice"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(aliceKey)
	f.Add("")
	f.Add(strings.Repeat("x", 5000))
	f.Fuzz(func(t *testing.T, k string) {
		p, err := a.Authenticate(context.Background(), keyHeader(k))
		if (err == nil) != (k == aliceKey) || err == nil && p.ID != "alice" {
			t.Fatalf("key %q: %v, %v", k, p, err)
		}
	})
}
