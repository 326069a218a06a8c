package platform

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/paved-go/paved/internal/httpx"
)

// validator checks requests against their operation with openapi3filter.
func (b *builder) validator(op *operation) func(http.Handler) http.Handler {
	item := b.doc.Paths.Value(op.Path)
	route := &routers.Route{Spec: b.doc, Path: op.Path, PathItem: item, Method: op.Method, Operation: op.Spec}
	var names []string
	for _, ps := range [][]*openapi3.ParameterRef{item.Parameters, op.Spec.Parameters} {
		for _, p := range ps {
			if p != nil && p.Value != nil && p.Value.In == openapi3.ParameterInPath {
				names = append(names, p.Value.Name)
			}
		}
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			params := make(map[string]string, len(names))
			for _, n := range names {
				params[n] = r.PathValue(n)
			}
			in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				writeInvalid(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// writeInvalid answers a request that does not match its operation: 400
// problem+json whose detail names the parameter or the body member, and
// whose "field" member is the parameter's name or the body member's JSON
// pointer.
func writeInvalid(w http.ResponseWriter, r *http.Request, err error) {
	detail, field := "request does not match the API description", ""
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		reason := re.Reason
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			reason = se.Reason
		} else if reason == "" && re.Err != nil {
			reason = re.Err.Error()
		}
		switch {
		case re.Parameter != nil:
			field = re.Parameter.Name
			detail = re.Parameter.In + " parameter " + strconv.Quote(field) + ": " + reason
		case re.RequestBody != nil:
			field = "/"
			if se != nil {
				field = pointer("", se.JSONPointer()...)
			}
			detail = "request body " + field + ": " + reason
		default:
			detail = reason
		}
	}
	p := httpx.Problem{
		Status:        http.StatusBadRequest,
		Detail:        detail,
		CorrelationID: httpx.CorrelationID(r.Context()),
	}
	if field != "" {
		p.Extensions = []httpx.Extension{{Name: "field", Value: field}}
	}
	httpx.WriteProblem(w, p)
}
