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

// The declarative resources form: every subnet a launch names must be in
// a compartment where the caller holds "use".
func ExampleLoad_resources() {
	const spec = `
openapi: 3.0.3
info: {title: Compute, version: "1"}
paths:
  /instances:
    post:
      operationId: launchInstance
      x-platform:
        authorization:
          check: hasScope("compute.launch") && len(resources["Subnet"]) > 0
          resources:
            - name: Subnet
              forEach: request.body.subnetIds
              resolver: subnet
              permissions: [use]
      responses: {"201": {description: launched}}
`
	keys, _ := authz.NewAPIKeys(map[string]*authz.Principal{
		"k-5c0d2e8f1a7b4c3d9e6f0a1b2c3d4e5f": {ID: "alice", Tenant: "dev", Scopes: []string{"compute.launch"}},
	})
	subnets := map[string]map[string]any{
		"sn-dev":  {"compartment": "dev", "cidr": "10.0.1.0/24"},
		"sn-prod": {"compartment": "prod", "cidr": "10.9.0.0/24"},
	}
	p, err := platform.Load([]byte(spec),
		platform.WithAuthenticator("apiKey", keys),
		platform.WithResolver("subnet", func(_ context.Context, id string) (any, error) {
			return subnets[id], nil
		}),
		// alice may launch in dev and use its subnets; nothing in prod.
		platform.WithPermissions(func(_ context.Context, p *authz.Principal, compartment string) ([]string, error) {
			if p != nil && p.ID == "alice" && compartment == "dev" {
				return []string{"use"}, nil
			}
			return nil, nil
		}),
		platform.WithHandler("launchInstance", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g, _ := authz.Resource(r.Context(), "Subnet", "sn-dev")
			fmt.Println("launching in", g.(*platform.Grant).Resource.(map[string]any)["cidr"])
			w.WriteHeader(http.StatusCreated)
		})),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	for _, body := range []string{`{"subnetIds":["sn-dev"]}`, `{"subnetIds":["sn-dev","sn-prod"]}`} {
		req := httptest.NewRequest("POST", "/instances", strings.NewReader(body))
		req.Header.Set("X-API-Key", "k-5c0d2e8f1a7b4c3d9e6f0a1b2c3d4e5f")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		fmt.Println(body, rec.Code)
	}
	// Output:
	// launching in 10.0.1.0/24
	// {"subnetIds":["sn-dev"]} 201
	// {"subnetIds":["sn-dev","sn-prod"]} 403
}

// A later package adds a section of its own; here "deprecated" sets the
// Deprecation header (RFC 9745) of the operations that have it.
func ExampleWithSection() {
	const spec = `
openapi: 3.0.3
info: {title: Compute, version: "1"}
x-platform:
  authentication: {mode: none}
paths:
  /v1/instances:
    get:
      operationId: listInstancesV1
      x-platform:
        deprecated: {since: "@1767225600"}
      responses: {"200": {description: the instances}}
`
	deprecated := platform.SectionFunc(func(op *platform.Operation, v any) (func(http.Handler) http.Handler, error) {
		since, _ := v.(map[string]any)["since"].(string)
		if !strings.HasPrefix(since, "@") {
			return nil, &platform.LoadError{Problems: []platform.Problem{{Pointer: "/since", Message: "want @<unix seconds>"}}}
		}
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Deprecation", since)
				next.ServeHTTP(w, r)
			})
		}, nil
	})
	p, err := platform.Load([]byte(spec),
		platform.WithSection("deprecated", deprecated),
		platform.WithHandler("listInstancesV1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/instances", nil))
	fmt.Println(rec.Code, rec.Header().Get("Deprecation"))
	// Output:
	// 200 @1767225600
}
