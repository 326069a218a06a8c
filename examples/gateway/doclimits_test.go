package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/paved-go/paved/platform"
)

// TestRateLimitOf: the operations the gateway also limits per address are
// those gateway.yaml limits, merged as the platform merges the document:
// the root's limit for most operations, the launch's own policy, none
// where the document says null.
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
	type limit struct{ rate, policy string }
	api := &limit{"100/m", "api"}
	want := map[string]*limit{
		"health":            nil, // rateLimit: null on the operation
		"getFaults":         nil, // rateLimit: null on the path item
		"setFaults":         nil,
		"clearFaults":       nil,
		"listInstances":     api,
		"getInstance":       api,
		"terminateInstance": api,
		"launchInstance":    {"2/m", "launch"},
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
		if got := (limit{fmt.Sprint(s["rate"]), fmt.Sprint(s["policy"])}); got != *w {
			t.Errorf("%s: rate limit %+v, want %+v", rt.ID, got, *w)
		}
	}
}
