package platform_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/platform"
)

// doc is a document with the given root x-platform (YAML, indented by
// two) and paths (indented by two).
func doc(root, paths string) []byte {
	s := "openapi: 3.0.3\ninfo:\n  title: t\n  version: \"1\"\n"
	if root != "" {
		s += "x-platform:\n" + root
	}
	return []byte(s + "paths:\n" + paths)
}

// op is one operation at path with an x-platform (YAML, indented by 8).
func op(path, method, id, ext string) string {
	s := "  " + path + ":\n    " + method + ":\n      operationId: " + id + "\n      responses:\n        \"200\":\n          description: ok\n"
	for rest := path; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			break
		}
		name, tail, _ := strings.Cut(after, "}")
		if !strings.Contains(s, "parameters:") {
			s += "      parameters:\n"
		}
		s += "        - {name: " + name + ", in: path, required: true, schema: {type: string}}\n"
		rest = tail
	}
	if ext != "" {
		s += "      x-platform:\n" + ext
	}
	return s
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func loadOpts(t testing.TB, ids ...string) []platform.Option {
	opts := []platform.Option{
		platform.WithAuthenticator("apiKey", apiKeys(t)),
		platform.WithResolver("subnet", resolverOf(nil)),
	}
	for _, id := range ids {
		opts = append(opts, platform.WithHandler(id, okHandler))
	}
	return opts
}

const allow = "        authorization:\n          check: \"true\"\n"

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name     string
		spec     []byte
		handlers []string
		want     []string
	}{
		{
			name: "bad expression",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          check: principle.id == \"alice\"\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/check: unknown name principle (1:1)`},
		},
		{
			name: "bad expression on the second line",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          check: |-\n            hasRole(\"admin\") ||\n            principal.tenant == 3\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/check: invalid operation: == (mismatched types string and int) (2:18)`},
		},
		{
			name:     "bad expression at the root is reported at the root",
			spec:     doc("  authorization:\n    check: hasRole(1)\n", op("/a", "get", "a", "")),
			handlers: []string{"a"},
			want:     []string{`/x-platform/authorization/check: cannot use int as argument (type string) to call hasRole  (1:9)`},
		},
		{
			name:     "unknown audit level",
			spec:     doc("", op("/a", "get", "a", allow+"        audit:\n          level: verbose\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/audit/level: value must be one of 'none', 'metadata', 'request', 'requestResponse'`},
		},
		{
			name:     "bad audit field",
			spec:     doc("", op("/a", "get", "a", allow+"        audit:\n          additionalFields:\n            ip: response.bodyy.ip\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/audit/additionalFields/ip: type audit.responseEnv has no field bodyy (1:10)`},
		},
		{
			name:     "negative rate",
			spec:     doc("", op("/a", "get", "a", allow+"        rateLimit:\n          rate: -5/m\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/rateLimit/rate: rate "-5/m" is not count/period with a positive count, such as 100/m`},
		},
		{
			name:     "negative rate object",
			spec:     doc("", op("/a", "get", "a", allow+"        rateLimit:\n          rate: {rate: -5, per: 1m}\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/rateLimit/rate/rate: minimum: got -5, want 1`},
		},
		{
			name: "unknown resolver",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          resources:\n            - name: Subnet\n              forEach: request.body.subnetIds\n              resolver: subnett\n              permissions: [use]\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/resources/0/resolver: unknown resolver "subnett" (platform.WithResolver)`},
		},
		{
			name:     "unknown resource kind in a check",
			spec:     doc("", op("/a", "get", "a", "        authorization:\n          check: resource(\"vpc\", \"x\").compartment == principal.tenant\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/authorization/check: no resolver for resource kind "vpc" (see WithResolver) (1:10)`},
		},
		{
			name: "bad forEach",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          resources:\n            - name: Subnet\n              forEach: request.bodyy\n              resolver: subnet\n              permissions: [use]\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/resources/0/forEach: type authz.request has no field bodyy (1:9)`},
		},
		{
			name: "resources entry that does not exist",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          check: all(resources[\"Subnets\"], {.compartment == principal.tenant})\n          resources:\n            - name: Subnet\n              forEach: request.body.subnetIds\n              resolver: subnet\n              permissions: [use]\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/check: resources["Subnets"]: no resources entry is named "Subnets"`},
		},
		{
			name: "bad forEach used by the check",
			spec: doc("", op("/instances", "post", "launch",
				"        authorization:\n          check: len(resources[\"Subnet\"]) < 3\n          resources:\n            - name: Subnet\n              forEach: request.bodyy\n              resolver: subnet\n              permissions: [use]\n")),
			handlers: []string{"launch"},
			want:     []string{`/paths/~1instances/post/x-platform/authorization/resources/0/forEach: type authz.request has no field bodyy (1:9)`},
		},
		{
			name:     "missing handler",
			spec:     doc("", op("/a", "get", "a", allow)+op("/b", "get", "b", allow)),
			handlers: []string{"a"},
			want:     []string{`/paths/~1b/get: no handler for operation "b" (platform.WithHandler) and no x-platform upstream to proxy to`},
		},
		{
			name:     "handler for no operation",
			spec:     doc("", op("/a", "get", "a", allow)),
			handlers: []string{"a", "ghost"},
			want:     []string{`WithHandler: no operation has operationId "ghost"`},
		},
		{
			name:     "unknown section",
			spec:     doc("", op("/a", "get", "a", allow+"        quota:\n          limit: 10\n")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform/quota: unknown section "quota"`},
		},
		{
			name:     "unknown key in a section",
			spec:     doc("  cache:\n    ttl: 1s\n    maxAge: 2s\n", op("/a", "get", "a", allow)),
			handlers: []string{"a"},
			want:     []string{`/x-platform/cache: additional properties 'maxAge' not allowed`},
		},
		{
			name:     "partial path segment",
			spec:     doc("", op("/files/{name}.json", "get", "file", allow+"")),
			handlers: []string{"file"},
			want:     []string{`/paths/~1files~1{name}.json: path segment "{name}.json" is not a whole {parameter}: http.ServeMux matches parameters as whole segments only`},
		},
		{
			name:     "parameter name ServeMux cannot take",
			spec:     doc("", op("/items/{item-id}", "get", "item", allow)),
			handlers: []string{"item"},
			want:     []string{`/paths/~1items~1{item-id}: path parameter "item-id" is not a Go identifier, as http.ServeMux wildcards must be`},
		},
		{
			name:     "bad duration",
			spec:     doc("  timeout: 5 seconds\n", op("/a", "get", "a", allow)),
			handlers: []string{"a"},
			want:     []string{`/x-platform/timeout: duration "5 seconds" is not a positive Go duration such as 500ms, 30s or 1m`},
		},
		{
			name:     "no authorization",
			spec:     doc("", op("/a", "get", "a", "")),
			handlers: []string{"a"},
			want:     []string{`/paths/~1a/get/x-platform: no authorization: give authorization.check or resources, or authentication.mode none for a public operation`},
		},
		{
			name:     "unknown authenticator",
			spec:     doc("  authentication:\n    schemes: [apiKey, bearer]\n", op("/a", "get", "a", allow)),
			handlers: []string{"a"},
			want:     []string{`/x-platform/authentication/schemes/1: unknown authenticator "bearer" (platform.WithAuthenticator)`},
		},
		{
			name:     "upstream without url",
			spec:     doc("", op("/a", "get", "a", allow+"        upstream:\n          retry:\n            attempts: 2\n")),
			handlers: nil,
			want:     []string{`/paths/~1a/get/x-platform/upstream: upstream needs a url`},
		},
		{
			name:     "rate limit policy defined twice",
			spec:     doc("", op("/a", "get", "a", allow+"        rateLimit: {rate: 1/s, policy: p}\n")+op("/b", "get", "b", allow+"        rateLimit: {rate: 2/s, policy: p}\n")),
			handlers: []string{"a", "b"},
			want:     []string{`/paths/~1b/get/x-platform/rateLimit: policy "p" is defined differently at /paths/~1a/get/x-platform/rateLimit`},
		},
		{
			name: "every problem at once",
			spec: doc("  audit:\n    level: loud\n",
				op("/a", "get", "a", "        authorization:\n          check: principle\n")+op("/b/{x}.txt", "get", "b", allow)),
			handlers: []string{"a"},
			want: []string{
				`/paths/~1a/get/x-platform/authorization/check: unknown name principle (1:1)`,
				`/paths/~1b~1{x}.txt: path segment "{x}.txt" is not a whole {parameter}: http.ServeMux matches parameters as whole segments only`,
				`/paths/~1b~1{x}.txt/get: no handler for operation "b" (platform.WithHandler) and no x-platform upstream to proxy to`,
				`/x-platform/audit/level: value must be one of 'none', 'metadata', 'request', 'requestResponse'`,
			},
		},
		{
			name: "path parameter not described",
			spec: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/{x}:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n"),
			want: []string{`/paths/~1a~1{x}/get: operation must define exactly all path parameters (missing: [x])`},
		},
		{
			name: "OpenAPI problem in an operation",
			spec: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {}\n"),
			want: []string{`/paths/~1a/get: the responses object MUST contain at least one response code`},
		},
		{
			name: "OpenAPI problem in info",
			spec: []byte("openapi: 3.0.3\ninfo: {title: t}\npaths: {}\n"),
			want: []string{`/info: value of version must be a non-empty string`},
		},
		{
			name: "not OpenAPI",
			spec: []byte("just: text\n"),
			want: []string{`not an OpenAPI document: no openapi field`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := platform.Load(tc.spec, loadOpts(t, tc.handlers...)...)
			if err == nil {
				_ = p.Close(t.Context())
				t.Fatal("Load succeeded")
			}
			var le *platform.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T: %v", err, err)
			}
			var got []string
			for _, pr := range le.Problems {
				got = append(got, pr.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSchemaIsJSONSchema(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(platform.Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema %v", s["$schema"])
	}
	props, _ := s["properties"].(map[string]any)
	for _, k := range []string{"authentication", "authorization", "rateLimit", "audit", "cache", "timeout", "upstream"} {
		if _, ok := props[k]; !ok {
			t.Errorf("section %s missing", k)
		}
	}
}
