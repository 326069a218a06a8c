package faults

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/paved-go/paved/internal/httpx"
)

// crossOrigin refuses changes from another site's page in a browser.
var crossOrigin = http.NewCrossOriginProtection()

// MaxControlBody is the largest rule set, in bytes, the control endpoint
// reads; a larger body is answered 413.
const MaxControlBody = 64 << 10

// control is the control endpoint's JSON document.
type control struct {
	Rules []Rule `json:"rules"`
}

// ServeHTTP serves the control endpoint, wherever it is mounted (the
// status package mounts it at …/faults):
//
//   - GET returns the rules in force, {"rules":[...]} (see Rule for the
//     form of each);
//   - POST replaces them with the body's rules (application/json), all
//     checked first: a body
//     that is not a valid rule set (unknown fields included) is answered
//     400 problem+json saying what is wrong, one over MaxControlBody 413,
//     and the rules in force stay; on success it answers as GET does;
//   - DELETE clears them, and answers as GET does;
//   - other methods are answered 405.
//
// A POST must be sent as application/json (415 otherwise), which no
// browser form can, and a POST or DELETE from another site's page in a
// browser is refused 403 (http.CrossOriginProtection).
//
// The endpoint is the only way to switch faults on at run time besides
// Set, and it is not mounted anywhere unless the user does so: mount it
// on an admin listener, behind authz. On a nil *Injector it answers 404.
func (inj *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if inj == nil {
		writeProblem(w, r, http.StatusNotFound, "faults: no fault injector")
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodDelete {
		if err := crossOrigin.Check(r); err != nil {
			writeProblem(w, r, http.StatusForbidden, "faults: a cross-origin request may not change the rules")
			return
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		rules, status, err := decodeControl(w, r)
		if err == nil {
			err = inj.Set(rules...)
		}
		if err != nil {
			writeProblem(w, r, status, err.Error())
			return
		}
	case http.MethodDelete:
		inj.Clear()
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		writeProblem(w, r, http.StatusMethodNotAllowed, "faults: the control endpoint answers GET, POST and DELETE")
		return
	}
	rules := inj.Rules()
	if rules == nil {
		rules = []Rule{}
	}
	b, err := json.Marshal(control{Rules: rules})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n'))
	}
}

func decodeControl(w http.ResponseWriter, r *http.Request) ([]Rule, int, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, http.StatusUnsupportedMediaType, errors.New("faults: the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxControlBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, errors.New("faults: the rule set is over 64 KiB")
		}
		return nil, http.StatusBadRequest, errors.New("faults: reading the body: " + err.Error())
	}
	rules, err := ParseRules(body)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return rules, http.StatusBadRequest, nil
}

// ParseRules reads a rule set in the control endpoint's JSON form,
// {"rules":[...]}, and checks it as Set does: a field it does not know,
// a value of the wrong type or a rule that is not valid is an error
// saying what is wrong. An empty list is valid and clears the rules.
func ParseRules(data []byte) ([]Rule, error) {
	var c struct {
		Rules *[]Rule `json:"rules"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if !strings.HasPrefix(msg, "faults: ") {
			msg = "faults: " + msg
		}
		return nil, errors.New(msg)
	}
	if dec.More() {
		return nil, errors.New("faults: data after the rule set")
	}
	if c.Rules == nil {
		return nil, errors.New(`faults: no "rules" list: {"rules":[...]}`)
	}
	if err := validate(*c.Rules); err != nil {
		return nil, err
	}
	return *c.Rules, nil
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	httpx.WriteProblem(w, httpx.Problem{Status: status, Detail: detail, CorrelationID: httpx.CorrelationID(r.Context())})
}
