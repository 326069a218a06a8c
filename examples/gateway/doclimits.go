package main

import (
	"maps"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/paved-go/paved/platform"
)

// Where the document limits an operation per key, the gateway limits it
// per client address too (newIPLimit); rateLimitOf tells where.

// rateLimitOf returns an operation's rateLimit section as the platform
// merges it: the root's, the path item's, then the operation's, objects
// merged by key, null removing what it replaces.
func rateLimitOf(doc *openapi3.T, rt platform.Route) (map[string]any, bool) {
	levels := []map[string]any{doc.Extensions}
	if item := doc.Paths.Value(rt.Path); item != nil {
		levels = append(levels, item.Extensions)
	}
	levels = append(levels, rt.Spec.Extensions)
	var cur any
	for _, exts := range levels {
		xp, _ := exts[platform.Extension].(map[string]any)
		if v, ok := xp["rateLimit"]; ok {
			cur = mergeValue(cur, v)
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func mergeValue(base, over any) any {
	bm, ok := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok || !ok2 {
		return over
	}
	out := maps.Clone(bm)
	for k, v := range om {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = mergeValue(out[k], v)
		}
	}
	return out
}
