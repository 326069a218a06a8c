package platform

import (
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// Operation is an operation of the document as the platform serves it.
type Operation struct {
	// ID is the operationId.
	ID string
	// Method and Path are the HTTP method and the OpenAPI path template.
	Method, Path string
	// Pattern is the http.ServeMux pattern that serves it:
	// "POST /instances/{id}/terminate".
	Pattern string
	// Pointer is the JSON pointer of the operation in the document.
	Pointer string
	// Spec is the operation as kin-openapi parsed it.
	Spec *openapi3.Operation
}

// SectionCompiler compiles one section of x-platform, for sections beyond
// the built-in ones (an overload or quota package adds its
// own). Compile gets an operation and the section's value for it, the
// root's, path item's and operation's values merged (see the package
// documentation), as encoding/json decodes JSON: map[string]any, []any,
// float64, string, bool. It is called once per operation that has the
// section, at Load, and returns the operation's middleware (nil for none),
// or an error: a *LoadError whose pointers are relative to the section
// ("/limit") places each problem, any other error is reported at the
// section. A SectionCompiler is used by one Load at a time.
type SectionCompiler interface {
	Compile(op *Operation, value any) (func(http.Handler) http.Handler, error)
}

// SectionFunc adapts a function to SectionCompiler.
type SectionFunc func(op *Operation, value any) (func(http.Handler) http.Handler, error)

// Compile calls f.
func (f SectionFunc) Compile(op *Operation, value any) (func(http.Handler) http.Handler, error) {
	return f(op, value)
}

// builtinSections are the sections the platform compiles itself.
var builtinSections = map[string]bool{
	"authentication": true, "authorization": true, "rateLimit": true,
	"audit": true, "cache": true, "timeout": true, "upstream": true,
	"idempotency": true,
}

var registry struct {
	sync.RWMutex
	m map[string]SectionCompiler
}

// RegisterSection makes every Load compile the x-platform section name
// with sc. It is meant for init functions, as sql.Register is, and panics
// when name is empty or built in, is registered already, or sc is nil.
func RegisterSection(name string, sc SectionCompiler) {
	if err := checkSectionName(name, sc); err != nil {
		panic("platform: RegisterSection: " + err.Error())
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic("platform: RegisterSection: " + strconv.Quote(name) + " registered twice")
	}
	if registry.m == nil {
		registry.m = make(map[string]SectionCompiler)
	}
	registry.m[name] = sc
}

func checkSectionName(name string, sc SectionCompiler) error {
	switch {
	case name == "":
		return errors.New("empty section name")
	case builtinSections[name]:
		return errors.New("section " + strconv.Quote(name) + " is built in")
	case sc == nil:
		return errors.New("nil SectionCompiler for " + strconv.Quote(name))
	}
	return nil
}

// registeredSections returns a copy of the registry.
func registeredSections() map[string]SectionCompiler {
	registry.RLock()
	defer registry.RUnlock()
	m := make(map[string]SectionCompiler, len(registry.m))
	for k, v := range registry.m {
		m[k] = v
	}
	return m
}
