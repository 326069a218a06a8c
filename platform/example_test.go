package platform_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/platform"
)

const exampleSpec = `
openapi: 3.0.3
info: {title: Compute, version: "1"}
x-platform:
  authentication: {mode: required}
  rateLimit: {rate: 100/m, key: principal}
paths:
  /healthz:
    get:
      operationId: health
      x-platform:
        authentication: {mode: none}
      responses: {"200": {description: ok}}
  /instances/{id}:
    get:
      operationId: getInstance
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-platform:
        authorization:
          check: resource("instance", request.pathValue("id")).compartment == principal.tenant
        cache: {ttl: 30s}
      responses: {"200": {description: the instance}}
`

func Example() {
	keys, err := authz.NewAPIKeys(map[string]*authz.Principal{
		"k-3f9a1c0e7b2d4a8f9c6e5b4a3d2c1b0a": {ID: "alice", Tenant: "c1"},
	})
	if err != nil {
		panic(err)
	}
	instances := map[string]map[string]any{
		"i-1": {"compartment": "c1"},
		"i-2": {"compartment": "c2"},
	}
	p, err := platform.Load([]byte(exampleSpec),
		platform.WithAuthenticator("apiKey", keys),
		platform.WithResolver("instance", func(_ context.Context, id string) (any, error) {
			return instances[id], nil // nil: not found
		}),
		platform.WithHandler("health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "ok")
		})),
		platform.WithHandler("getInstance", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, r.PathValue("id"))
		})),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	for _, c := range []struct{ path, key string }{
		{"/healthz", ""},
		{"/instances/i-1", ""},
		{"/instances/i-1", "k-3f9a1c0e7b2d4a8f9c6e5b4a3d2c1b0a"},
		{"/instances/i-2", "k-3f9a1c0e7b2d4a8f9c6e5b4a3d2c1b0a"},
		{"/instances/i-1", "k-3f9a1c0e7b2d4a8f9c6e5b4a3d2c1b0a"},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.key != "" {
			req.Header.Set("X-API-Key", c.key)
		}
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		status, _, _ := strings.Cut(rec.Header().Get("Cache-Status"), "; ttl") // ttl has jitter
		fmt.Println(strings.TrimSpace(fmt.Sprint(c.path, " ", c.key != "", " ", rec.Code, " ", status)))
	}
	// Output:
	// /healthz false 200
	// /instances/i-1 false 401
	// /instances/i-1 true 200 getInstance; fwd=uri-miss; stored
	// /instances/i-2 true 403
	// /instances/i-1 true 200 getInstance; hit
}

func ExampleLoad_problems() {
	_, err := platform.Load([]byte(`
openapi: 3.0.3
info: {title: Compute, version: "1"}
x-platform:
  audit: {level: loud}
paths:
  /instances:
    post:
      operationId: launchInstance
      x-platform:
        authorization:
          check: principle.tenant == "c1"
        rateLimit: {rate: -5/m}
      responses: {"201": {description: launched}}
`))
	fmt.Println(err)
	// Output:
	// platform: 5 problems:
	//	/paths/~1instances/post: authentication is required but no authenticator is registered (platform.WithAuthenticator)
	//	/paths/~1instances/post: no handler for operation "launchInstance" (platform.WithHandler) and no x-platform upstream to proxy to
	//	/paths/~1instances/post/x-platform/authorization/check: unknown name principle (1:1)
	//	/paths/~1instances/post/x-platform/rateLimit/rate: rate "-5/m" is not count/period with a positive count, such as 100/m
	//	/x-platform/audit/level: value must be one of 'none', 'metadata', 'request', 'requestResponse'
}
