package platform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/authz"
)

// memorySink keeps the events it is given.
type memorySink struct {
	mu     sync.Mutex
	events []*audit.Event
}

func (s *memorySink) Name() string { return "memory" }

func (s *memorySink) Write(_ context.Context, batch []*audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, batch...)
	return nil
}

func (s *memorySink) Close(context.Context) error { return nil }

func (s *memorySink) all() []*audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*audit.Event(nil), s.events...)
}

// Keys of the test callers.
const (
	aliceKey = "alice-key-0123456789abcdef0123456789"
	bobKey   = "bob-key-0123456789abcdef0123456789ab"
)

func apiKeys(t testing.TB) *authz.APIKeys {
	t.Helper()
	keys, err := authz.NewAPIKeys(map[string]*authz.Principal{
		aliceKey: {ID: "alice", Type: "user", Tenant: "c1", Scopes: []string{"compute.launch", "use"}},
		bobKey:   {ID: "bob", Type: "user", Tenant: "c2", Scopes: []string{"use"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// resolverOf returns a resolver over a fixed map of resources.
func resolverOf(m map[string]map[string]any) func(ctx context.Context, id string) (any, error) {
	return func(_ context.Context, id string) (any, error) {
		if v, ok := m[id]; ok {
			return v, nil
		}
		return nil, authz.ErrNotFound
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
