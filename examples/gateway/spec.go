package main

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// The gateway is described by an OpenAPI 3 document: gateway.yaml, embedded
// in the binary, or the file -spec names. Its x-platform extension says
// which paved features each operation gets; package platform reads it,
// checks it and builds every operation's handler (see gateway.go).

//go:embed gateway.yaml
var embeddedSpec []byte

// upstreamVar in the document is replaced by the URL of the embedded demo
// service, which listens on a port chosen at start-up.
const upstreamVar = "${UPSTREAM}"

// routeTimeouts is the -route-timeout flag: operations' timeouts that
// replace the document's, given as "PATTERN=DURATION", repeatable.
type routeTimeouts map[string]time.Duration

func (rt routeTimeouts) String() string {
	parts := make([]string, 0, len(rt))
	for p, d := range rt {
		parts = append(parts, p+"="+d.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (rt routeTimeouts) Set(s string) error {
	pattern, value, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want PATTERN=DURATION, such as %q", "GET /instances=2s")
	}
	pattern = strings.TrimSpace(pattern)
	if _, _, ok := splitPattern(pattern); !ok {
		return fmt.Errorf("%q is not METHOD /path, such as %q", pattern, "GET /instances/{id}")
	}
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration", value)
	}
	rt[pattern] = d
	return nil
}

// splitPattern splits "GET /instances/{id}" into its method and path.
func splitPattern(pattern string) (method, path string, ok bool) {
	method, path, ok = strings.Cut(pattern, " ")
	path = strings.TrimSpace(path)
	return method, path, ok && method != "" && strings.HasPrefix(path, "/")
}

// overrides are the command line's changes to the document.
type overrides struct {
	upstream    string        // replaces ${UPSTREAM}
	breakerOpen time.Duration // x-platform.upstream.breaker.openFor at the root; 0: the document's
	timeouts    routeTimeouts // an operation's x-platform.timeout
}

// prepare returns the document with the command line's overrides applied.
// Without -breaker-open and -route-timeout the document is loaded as
// written (line numbers in kin-openapi's messages stay right); otherwise
// it is rewritten through a YAML node tree, which keeps every JSON pointer.
func prepare(doc []byte, o overrides) ([]byte, error) {
	doc = []byte(strings.ReplaceAll(string(doc), upstreamVar, o.upstream))
	if o.breakerOpen == 0 && len(o.timeouts) == 0 {
		return doc, nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("document: not a YAML or JSON object")
	}
	top := root.Content[0]
	if o.breakerOpen > 0 {
		set(top, []string{"x-platform", "upstream", "breaker", "openFor"}, o.breakerOpen.String())
	}
	patterns := make([]string, 0, len(o.timeouts))
	for p := range o.timeouts {
		patterns = append(patterns, p)
	}
	slices.Sort(patterns)
	for _, p := range patterns {
		method, path, _ := splitPattern(p)
		op := get(top, "paths", path, strings.ToLower(method))
		if op == nil || op.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("-route-timeout: the document has no operation %q", p)
		}
		set(op, []string{"x-platform", "timeout"}, o.timeouts[p].String())
	}
	return yaml.Marshal(&root)
}

// get follows keys down mappings; nil when one is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// set puts the string value at keys below the mapping n, creating (or
// replacing non-mapping values with) mappings on the way.
func set(n *yaml.Node, keys []string, value string) {
	for i, k := range keys {
		var child *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				child = n.Content[j+1]
			}
		}
		last := i == len(keys)-1
		if child == nil {
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, child)
		}
		if last {
			*child = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
			return
		}
		if child.Kind != yaml.MappingNode {
			*child = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		n = child
	}
}
