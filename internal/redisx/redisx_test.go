package redisx_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/internal/redisx"
)

func TestCheckClient(t *testing.T) {
	tests := []struct {
		name   string
		client redis.UniversalClient
		want   string // "" for no error
	}{
		{"nil", nil, "p: nil client"},
		{"nil *Client", (*redis.Client)(nil), "p: nil client"},
		{"nil *ClusterClient", (*redis.ClusterClient)(nil), "p: nil client"},
		{"nil *Ring", (*redis.Ring)(nil), "p: nil client"},
		{"deadlines ignored", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "set ContextTimeoutEnabled"},
		{"cluster, deadlines ignored", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), "set ContextTimeoutEnabled"},
		{"deadlines honoured", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true}), ""},
		{"ring, deadlines honoured", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := redisx.CheckClient("p", tc.client)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
		if c, ok := tc.client.(interface{ Close() error }); ok && tc.client != nil && !strings.HasPrefix(tc.name, "nil") {
			c.Close()
		}
	}
}

func TestValidKeyPart(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"paved:rl:", true}, {"a b~", true},
		{"a{b", false}, {"a}b", false}, {"tab\t", false}, {"del\x7f", false}, {"é", false},
	} {
		if got := redisx.ValidKeyPart(tc.s); got != tc.want {
			t.Errorf("ValidKeyPart(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
