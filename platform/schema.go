package platform

import (
	"bytes"
	_ "embed"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed schema/x-platform.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of the x-platform
// extension's built-in sections, which Load validates every x-platform
// object against. Editors that take JSON Schema can use it for completion.
func Schema() []byte { return bytes.Clone(schemaJSON) }

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("x-platform.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("x-platform.schema.json")
})

// validateSchema checks one x-platform object, found at ptr, against
// Schema, and returns a problem per failing value, at its pointer.
func validateSchema(ptr string, v map[string]any) []Problem {
	s, err := compiledSchema()
	if err != nil {
		return []Problem{{Pointer: ptr, Message: "x-platform schema: " + err.Error()}}
	}
	// A null section removes an inherited one; the schema describes
	// sections that are set.
	obj := make(map[string]any, len(v))
	for k, x := range v {
		if x != nil {
			obj[k] = x
		}
	}
	err = s.Validate(obj)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Pointer: ptr, Message: err.Error()}}
	}
	var out []Problem
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range branches(e) {
				walk(c)
			}
			return
		}
		p := Problem{Pointer: pointer(ptr, e.InstanceLocation...), Message: leafMessage(e)}
		if k := p.String(); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// branches returns the causes of e worth reporting: for oneOf and anyOf,
// the alternatives whose type matched, when some did (a rate that is an
// object is not also told it is not a string).
func branches(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
	default:
		return e.Causes
	}
	var typed []*jsonschema.ValidationError
	for _, c := range e.Causes {
		if _, mismatch := c.ErrorKind.(*kind.Type); !mismatch {
			typed = append(typed, c)
		}
	}
	if len(typed) == 0 {
		return e.Causes
	}
	return typed
}

// leafMessage is the message of one failing keyword, without the schema
// location jsonschema puts in front of it.
func leafMessage(e *jsonschema.ValidationError) string {
	msg := e.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "jsonschema validation failed") {
		msg = msg[i+2:]
	}
	// "at '/path': message"
	if strings.HasPrefix(msg, "at '") {
		if i := strings.Index(msg, "': "); i >= 0 {
			msg = msg[i+3:]
		}
	}
	return msg
}
