package platform_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/platform"
)

func FuzzLoad(f *testing.F) {
	compute, err := os.ReadFile("testdata/compute.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(compute)
	f.Add(doc("  audit:\n    level: metadata\n  rateLimit: {rate: 5/s}\n", op("/a/{x}", "get", "a", allow+"        cache: {ttl: 1s}\n")))
	f.Add(doc("", op("/instances", "post", "launchInstance",
		"        authorization:\n          check: all(resources[\"Subnet\"], {.compartment == principal.tenant})\n          resources:\n            - {name: Subnet, forEach: request.body.ids, resolver: subnet, permissions: [use]}\n")))
	f.Add([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"x-platform":{"timeout":"1s"},"paths":{"/a/":{"get":{"operationId":"a","responses":{"200":{"description":"ok"}}}}}}`))
	f.Fuzz(func(t *testing.T, spec []byte) {
		if len(spec) > 64<<10 {
			t.Skip()
		}
		start := time.Now()
		p, err := platform.Load(spec, append(loadOpts(t, "launchInstance", "getInstance", "health", "getQuota", "a"),
			platform.WithResolver("instance", resolverOf(nil)))...)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Load took %v", d)
		}
		if err == nil {
			if p.Handler() == nil {
				t.Error("no handler")
			}
			if err := p.Close(t.Context()); err != nil {
				t.Error(err)
			}
			return
		}
		var le *platform.LoadError
		if !errors.As(err, &le) || len(le.Problems) == 0 {
			t.Fatalf("error %T without problems: %v", err, err)
		}
		for _, pr := range le.Problems {
			if pr.Pointer != "" && !strings.HasPrefix(pr.Pointer, "/") {
				t.Errorf("pointer %q is not a JSON pointer", pr.Pointer)
			}
		}
	})
}
