package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/paved-go/paved/idempotency"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Extension is the name of the OpenAPI extension the platform reads.
const Extension = "x-platform"

// Platform is a loaded document: every operation compiled into its
// handler chain. Build it with Load; it is safe for concurrent use.
// Close it when done: it holds an audit emitter, caches and resolvers.
type Platform struct {
	doc     *openapi3.T
	routes  []Route
	handler http.Handler
	closers []func(context.Context) error
}

// Route is one operation with the handler that serves it, wrapped in every
// feature its x-platform settings ask for (tracing excepted, which goes
// around the mux).
type Route struct {
	Operation
	Handler http.Handler
}

// LoadFile is Load of the file at path.
func LoadFile(path string, opts ...Option) (*Platform, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.New("platform: " + err.Error())
	}
	return Load(b, opts...)
}

// Load parses an OpenAPI 3 document (JSON or YAML), checks it and its
// x-platform extensions, compiles every expression, resolves every named
// authenticator, resolver, handler and section, and builds the handler of
// every operation. It returns every problem at once, as a *LoadError whose
// problems carry JSON pointers into the document. Nothing is compiled per
// request.
func Load(spec []byte, opts ...Option) (*Platform, error) {
	c := &config{
		name:        "platform",
		handlers:    map[string]http.Handler{},
		resolvers:   map[string]ResolverFunc{},
		compartment: "compartment",
		sections:    registeredSections(),
	}
	b := &builder{c: c}
	for i, o := range opts {
		if o == nil {
			b.add("", "option "+strconv.Itoa(i)+" is nil")
			continue
		}
		if err := o.apply(c); err != nil {
			b.add("", err.Error())
		}
	}
	doc, err := parse(spec)
	if err != nil {
		var ve *validationError
		if errors.As(err, &ve) {
			b.add(openAPIPointer(ve.doc, ve.err.Error()))
		} else {
			b.add("", err.Error())
		}
		return nil, b.err()
	}
	b.doc = doc
	b.collect()
	p := b.build()
	if err := b.err(); err != nil {
		if p != nil {
			_ = p.Close(context.Background())
		}
		return nil, err
	}
	return p, nil
}

// parse loads and validates the document; kin-openapi's own problems
// have no pointers, so they are reported for the document as a whole.
func parse(spec []byte) (doc *openapi3.T, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("document not accepted: %v", r)
		}
	}()
	// kin-openapi may panic on odd input; a document must never take the
	// service down at start-up.
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err = loader.LoadFromData(spec)
	if err != nil {
		return nil, errors.New("not an OpenAPI document: " + err.Error())
	}
	if doc.OpenAPI == "" {
		return nil, errors.New("not an OpenAPI document: no openapi field")
	}
	if doc.Paths == nil {
		return nil, errors.New("invalid OpenAPI document: no paths")
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, &validationError{doc: doc, err: err}
	}
	return doc, nil
}

// validationError is kin-openapi's verdict on a document it parsed.
type validationError struct {
	doc *openapi3.T
	err error
}

func (e *validationError) Error() string { return "invalid OpenAPI document: " + e.err.Error() }

// openAPIPointer places a kin-openapi validation message, which names
// the place in words ("invalid paths: invalid path /a: invalid operation
// GET: ..."), at its JSON pointer where it can tell, and returns the rest
// of the message.
func openAPIPointer(doc *openapi3.T, msg string) (string, string) {
	if rest, ok := strings.CutPrefix(msg, "invalid info: "); ok {
		return "/info", rest
	}
	if rest, ok := strings.CutPrefix(msg, "invalid components: "); ok {
		return "/components", rest
	}
	rest, ok := strings.CutPrefix(msg, "invalid paths: ")
	if !ok {
		return "", "invalid OpenAPI document: " + msg
	}
	for _, path := range doc.Paths.Keys() {
		if r, ok := strings.CutPrefix(rest, "invalid path "+path+": "); ok {
			ptr := pointer("", "paths", path)
			if r2, ok := strings.CutPrefix(r, "invalid operation "); ok {
				if m, r3, ok := strings.Cut(r2, ": "); ok && methodOrder[m] > 0 {
					return ptr + "/" + strings.ToLower(m), r3
				}
			}
			return ptr, r
		}
		for m := range methodOrder {
			if r, ok := strings.CutPrefix(rest, "operation "+m+" "+path+" "); ok {
				return pointer("", "paths", path, strings.ToLower(m)), "operation " + r
			}
		}
	}
	return "/paths", rest
}

// Handler returns the platform's handler: an http.ServeMux with a route
// per operation, behind tracing (the correlation id and the server span).
func (p *Platform) Handler() http.Handler { return p.handler }

// Routes returns the operations with their handlers, in path and method
// order, for a server that mounts them on a ServeMux of its own (next to
// /metrics, say) and puts tracing around that mux itself.
func (p *Platform) Routes() []Route { return append([]Route(nil), p.routes...) }

// Document returns the parsed document. It must not be changed.
func (p *Platform) Document() *openapi3.T { return p.doc }

// Close releases what the platform holds: it flushes and closes the
// audit emitter (waiting for its sinks up to ctx), closes the response
// caches and the authorizer's resolvers. The handler must not serve
// requests afterwards.
func (p *Platform) Close(ctx context.Context) error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	p.closers = nil
	return errors.Join(errs...)
}

// operation is an operation being compiled.
type operation struct {
	Operation
	ext     map[string]any    // x-platform, merged
	origins map[string]string // pointer in ext -> pointer in the document
	bad     map[string]bool   // sections with schema problems somewhere
	handler http.Handler
}

// at returns the document pointer of rel, a pointer into the merged
// x-platform ("/authorization/check"): where the value was written.
func (op *operation) at(rel string) string {
	best := ""
	found := false
	for k := range op.origins {
		if (rel == k || strings.HasPrefix(rel, k+"/")) && (!found || len(k) > len(best)) {
			best, found = k, true
		}
	}
	if found {
		return op.origins[best] + rel[len(best):]
	}
	return op.Pointer + "/" + Extension + rel
}

// written returns the document pointer of rel when the value is written
// somewhere (inherited or not), and the operation's pointer when it is a
// default nobody wrote.
func (op *operation) written(rel string) string {
	for k := range op.origins {
		if rel == k || strings.HasPrefix(rel, k+"/") {
			return op.at(rel)
		}
	}
	return op.Pointer
}

// section returns the merged value of a section and whether it is set.
func (op *operation) section(name string) (any, bool) {
	v, ok := op.ext[name]
	return v, ok && v != nil
}

// builder collects problems while it compiles a document.
type builder struct {
	c         *config
	doc       *openapi3.T
	ops       []*operation
	problems  []Problem
	closers   []func(context.Context) error
	idemStore idempotency.Store // shared by the operations' guards
	seen      map[Problem]bool
}

func (b *builder) add(ptr, msg string) {
	p := Problem{Pointer: ptr, Message: msg}
	if b.seen == nil {
		b.seen = map[Problem]bool{}
	}
	if b.seen[p] {
		return
	}
	b.seen[p] = true
	b.problems = append(b.problems, p)
}

func (b *builder) err() error {
	if len(b.problems) == 0 {
		return nil
	}
	sort.SliceStable(b.problems, func(i, j int) bool { return b.problems[i].Pointer < b.problems[j].Pointer })
	return &LoadError{Problems: b.problems}
}

// extension returns the x-platform object of exts found at base, checked
// against the schema and the known sections; bad collects the sections
// that failed.
func (b *builder) extension(exts map[string]any, base string, bad map[string]bool) map[string]any {
	raw, ok := exts[Extension]
	if !ok || raw == nil {
		return nil
	}
	ptr := base + "/" + Extension
	m, ok := raw.(map[string]any)
	if !ok {
		b.add(ptr, "x-platform must be an object")
		return nil
	}
	for _, p := range validateSchema(ptr, m) {
		b.add(p.Pointer, p.Message)
		rest := strings.TrimPrefix(p.Pointer, ptr+"/")
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		bad[rest] = true
	}
	for k := range m {
		if !builtinSections[k] && b.c.sections[k] == nil {
			b.add(pointer(ptr, k), "unknown section "+strconv.Quote(k))
			bad[k] = true
		}
	}
	return m
}

// methodOrder sorts the operations of a path item as OpenAPI lists them.
var methodOrder = map[string]int{
	http.MethodGet: 1, http.MethodPut: 2, http.MethodPost: 3, http.MethodDelete: 4,
	http.MethodOptions: 5, http.MethodHead: 6, http.MethodPatch: 7, http.MethodTrace: 8,
}

// collect finds every operation and merges its x-platform settings.
func (b *builder) collect() {
	bad := map[string]bool{}
	root := b.extension(b.doc.Extensions, "", bad)
	paths := b.doc.Paths.Keys()
	sort.Strings(paths)
	ids := map[string]string{}
	scratch := http.NewServeMux()
	patterns := map[string]string{}
	for _, path := range paths {
		item := b.doc.Paths.Value(path)
		if item == nil {
			continue
		}
		itemPtr := pointer("", "paths", path)
		itemBad := copyBad(bad)
		itemExt := b.extension(item.Extensions, itemPtr, itemBad)
		opsByMethod := item.Operations()
		methods := make([]string, 0, len(opsByMethod))
		for m := range opsByMethod {
			methods = append(methods, m)
		}
		sort.Slice(methods, func(i, j int) bool {
			oi, oj := methodOrder[methods[i]], methodOrder[methods[j]]
			if oi != oj {
				if oi == 0 || oj == 0 {
					return oj == 0
				}
				return oi < oj
			}
			return methods[i] < methods[j]
		})
		for _, method := range methods {
			spec := opsByMethod[method]
			op := &operation{
				Operation: Operation{ID: spec.OperationID, Method: method, Path: path, Spec: spec,
					Pointer: pointer(itemPtr, strings.ToLower(method))},
				ext: map[string]any{}, origins: map[string]string{},
			}
			op.bad = copyBad(itemBad)
			opExt := b.extension(spec.Extensions, op.Pointer, op.bad)
			merge(op.ext, root, "/"+Extension, "", op.origins)
			merge(op.ext, itemExt, itemPtr+"/"+Extension, "", op.origins)
			merge(op.ext, opExt, op.Pointer+"/"+Extension, "", op.origins)
			if op.ID == "" {
				b.add(op.Pointer, "operation has no operationId")
			} else if other, dup := ids[op.ID]; dup {
				b.add(op.Pointer+"/operationId", "operationId "+strconv.Quote(op.ID)+" is also used at "+other)
			} else {
				ids[op.ID] = op.Pointer
			}
			pattern, err := muxPattern(method, path)
			if err != nil {
				b.add(itemPtr, err.Error())
			} else if err := register(scratch, pattern, http.NotFoundHandler()); err != nil {
				b.add(itemPtr, conflict(pattern, err, patterns))
				pattern = ""
			} else {
				patterns[pattern] = itemPtr
			}
			op.Pattern = pattern
			b.ops = append(b.ops, op)
		}
	}
	for id := range b.c.handlers {
		if _, ok := ids[id]; !ok {
			b.add("", "WithHandler: no operation has operationId "+strconv.Quote(id))
		}
	}
}

var conflictWith = regexp.MustCompile(`conflicts with pattern "([^"]*)"`)

// conflict explains ServeMux's refusal of pattern.
func conflict(pattern string, err error, patterns map[string]string) string {
	m := conflictWith.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	_, why, _ := strings.Cut(err.Error(), "\n")
	why, _, _ = strings.Cut(strings.TrimSpace(why), "\n")
	return "http.ServeMux cannot serve " + strconv.Quote(pattern) + " next to " + strconv.Quote(m[1]) + " of " + patterns[m[1]] + ": " + why
}

func copyBad(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// merge merges src, found at srcPtr, into dst: objects merge key by key,
// any other value (arrays included) replaces what dst holds, and null
// removes it. origins records where each value came from.
func merge(dst, src map[string]any, srcPtr, rel string, origins map[string]string) {
	for k, v := range src {
		kr := rel + "/" + escapeToken(k)
		kp := srcPtr + "/" + escapeToken(k)
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm, kp, kr, origins)
				continue
			}
			nm := map[string]any{}
			for o := range origins {
				if strings.HasPrefix(o, kr+"/") {
					delete(origins, o)
				}
			}
			origins[kr] = kp
			merge(nm, sm, kp, kr, origins)
			dst[k] = nm
			continue
		}
		for o := range origins {
			if strings.HasPrefix(o, kr+"/") {
				delete(origins, o)
			}
		}
		origins[kr] = kp
		dst[k] = v
	}
}

// decode converts a section's JSON value into v.
func decode(value any, v any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// muxPattern returns the http.ServeMux pattern of an OpenAPI path
// template, or why ServeMux cannot express it.
func muxPattern(method, path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", errors.New("path " + strconv.Quote(path) + " does not start with /")
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name, ok := strings.CutPrefix(seg, "{")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		if !ok || strings.ContainsAny(name, "{}") {
			return "", errors.New("path segment " + strconv.Quote(seg) + " is not a whole {parameter}: http.ServeMux matches parameters as whole segments only")
		}
		if !isIdentifier(name) {
			return "", errors.New("path parameter " + strconv.Quote(name) + " is not a Go identifier, as http.ServeMux wildcards must be")
		}
	}
	pattern := method + " " + path
	if strings.HasSuffix(path, "/") {
		pattern += "{$}" // "/a/" in OpenAPI is that path only, not a subtree
	}
	return pattern, nil
}

// isIdentifier reports whether s is an ASCII Go identifier. ServeMux
// takes Unicode letters too; OpenAPI parameter names outside ASCII are
// refused here to keep patterns plain.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
