package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paved-go/paved/platform"
)

// TestRateLimitOf: the rate limits -redis shares are gateway.yaml's, merged
// as the platform merges them: the root's for most operations, the
// launch's own policy, none where the document says null.
func TestRateLimitOf(t *testing.T) {
	spec, err := prepare(embeddedSpec, overrides{upstream: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := newAPIKeys()
	if err != nil {
		t.Fatal(err)
	}
	p, err := platform.Load(spec,
		platform.WithAuthenticator("apiKey", keys),
		platform.WithResolver("instance", func(context.Context, string) (any, error) { return nil, nil }),
		platform.WithHandler("health", http.NotFoundHandler()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	api := quota{count: 100, per: time.Minute, burst: 20, key: "apiKey", policy: "api"}
	want := map[string]*quota{
		"health":            nil, // rateLimit: null on the operation
		"getFaults":         nil, // rateLimit: null on the path item
		"setFaults":         nil,
		"clearFaults":       nil,
		"listInstances":     &api,
		"getInstance":       &api,
		"terminateInstance": &api,
		"launchInstance":    {count: 2, per: time.Minute, burst: 2, key: "apiKey", policy: "launch"},
	}
	routes := p.Routes()
	if len(routes) != len(want) {
		t.Fatalf("%d routes, want %d", len(routes), len(want))
	}
	for _, rt := range routes {
		w, ok := want[rt.ID]
		if !ok {
			t.Errorf("unexpected operation %s", rt.ID)
			continue
		}
		s, has := rateLimitOf(p.Document(), rt)
		if has != (w != nil) {
			t.Errorf("%s: has a rate limit %v (%v), want %v", rt.ID, has, s, w != nil)
			continue
		}
		if !has {
			continue
		}
		q, err := parseQuota(s, rt.ID)
		if err != nil || q != *w {
			t.Errorf("%s: quota %+v, %v; want %+v", rt.ID, q, err, *w)
		}
	}
}

func TestParseQuota(t *testing.T) {
	tests := []struct {
		name    string
		section map[string]any
		want    quota
		wantErr bool
	}{
		{"defaults", map[string]any{"rate": "10/s"}, quota{count: 10, per: time.Second, burst: 10, key: "ip", policy: "op"}, false},
		{"period with a count", map[string]any{"rate": "20/30s", "key": "header:X-Tenant"}, quota{count: 20, per: 30 * time.Second, burst: 20, key: "header:X-Tenant", policy: "op"}, false},
		{"object form", map[string]any{"rate": map[string]any{"rate": 5.0, "per": "1h"}, "burst": 1.0, "policy": "p"}, quota{count: 5, per: time.Hour, burst: 1, key: "ip", policy: "p"}, false},
		{"no rate", map[string]any{}, quota{}, true},
		{"bad count", map[string]any{"rate": "x/m"}, quota{}, true},
		{"bad period", map[string]any{"rate": "1/fortnight"}, quota{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseQuota(tc.section, "op")
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("parseQuota = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
