package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/idempotency"
)

// The upstream is the demo "compute instances" service the gateway fronts.
// It runs as its own http.Server on a loopback port, so the gateway reaches
// it over a real connection, through the same client-side middleware
// (http.RoundTripper chain) a service would use for any dependency.

// Instance is one compute instance of the demo API.
// The expr tags name the fields in the gateway's authorization rules
// (resource("instance", id).compartment).
type Instance struct {
	ID          string    `json:"id" expr:"id"`
	DisplayName string    `json:"displayName" expr:"displayName"`
	Compartment string    `json:"compartment" expr:"compartment"`
	Shape       string    `json:"shape" expr:"shape"`
	State       string    `json:"state" expr:"state"`
	IPAddress   string    `json:"ipAddress" expr:"ipAddress"`
	TimeCreated time.Time `json:"timeCreated" expr:"timeCreated"`
}

// Instance states.
const (
	stateRunning    = "RUNNING"
	stateTerminated = "TERMINATED"
)

// launchRequest is the body of POST /instances.
type launchRequest struct {
	Compartment string `json:"compartment"`
	DisplayName string `json:"displayName"`
	Shape       string `json:"shape"`
}

const (
	maxLaunchBody = 64 << 10
	defaultShape  = "VM.Standard.E4.Flex"
)

var (
	compartmentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	shapeRE       = regexp.MustCompile(`^[A-Za-z0-9.]{1,64}$`)
)

// store holds the instances in memory.
type store struct {
	mu        sync.Mutex
	instances map[string]*Instance
	next      int
	now       func() time.Time
}

func newStore(now func() time.Time) *store {
	s := &store{instances: make(map[string]*Instance), now: now}
	for _, seed := range []launchRequest{
		{Compartment: "prod", DisplayName: "web-1"},
		{Compartment: "prod", DisplayName: "web-2"},
		{Compartment: "dev", DisplayName: "build-1"},
	} {
		s.launch(seed)
	}
	return s
}

func (s *store) launch(req launchRequest) Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	inst := &Instance{
		ID:          fmt.Sprintf("inst-%04d", s.next),
		DisplayName: req.DisplayName,
		Compartment: req.Compartment,
		Shape:       req.Shape,
		State:       stateRunning,
		// Private addresses from 10.0.0.0/16, in launch order.
		IPAddress:   fmt.Sprintf("10.0.%d.%d", s.next/250, s.next%250+2),
		TimeCreated: s.now().UTC().Truncate(time.Second),
	}
	if inst.DisplayName == "" {
		inst.DisplayName = inst.ID
	}
	if inst.Shape == "" {
		inst.Shape = defaultShape
	}
	s.instances[inst.ID] = inst
	return *inst
}

func (s *store) get(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return *inst, true
}

func (s *store) list(compartment, state string) []Instance {
	s.mu.Lock()
	items := make([]Instance, 0, len(s.instances))
	for _, inst := range s.instances {
		if (compartment == "" || inst.Compartment == compartment) && (state == "" || inst.State == state) {
			items = append(items, *inst)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(items, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return items
}

// terminate is idempotent: terminating a terminated instance succeeds.
func (s *store) terminate(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	inst.State = stateTerminated
	return *inst, true
}

// newUpstream returns the demo service's handler. inj injects faults into
// its API calls (inside the mux, so rules can match routes) and its
// control answers /admin/faults, which the gateway exposes to admins
// (gateway.yaml); the admin listener's status page mounts it too.
func newUpstream(s *store, inj *faults.Injector) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/admin/faults", inj)
	api := func(pattern string, h http.Handler) { mux.Handle(pattern, inj.Middleware(h)) }
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	api("GET /instances", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, map[string]any{"items": s.list(q.Get("compartment"), q.Get("state"))})
	}))
	api("GET /instances/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst, ok := s.get(r.PathValue("id"))
		if !ok {
			writeProblem(w, r, http.StatusNotFound, fmt.Sprintf("instance %q not found", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, inst)
	}))
	// The service honours Idempotency-Key itself, as the gateway's
	// retries of a launch rely on: a launch whose answer was lost on the
	// way back is not run again. Keys are scoped to the caller's API key.
	launchOnce, err := idempotency.New("upstream-launch", idempotency.WithScope(func(r *http.Request) string {
		return r.Header.Get("X-API-Key")
	}))
	if err != nil {
		return nil, err
	}
	api("POST /instances", launchOnce.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req launchRequest
		if status, err := decodeJSON(w, r, &req); err != nil {
			writeProblem(w, r, status, err.Error())
			return
		}
		if err := req.validate(); err != nil {
			writeProblem(w, r, http.StatusBadRequest, err.Error())
			return
		}
		inst := s.launch(req)
		w.Header().Set("Location", "/instances/"+inst.ID)
		writeJSON(w, http.StatusCreated, inst)
	})))
	api("POST /instances/{id}/terminate", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst, ok := s.terminate(r.PathValue("id"))
		if !ok {
			writeProblem(w, r, http.StatusNotFound, fmt.Sprintf("instance %q not found", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, inst)
	}))
	return paved.ProblemMux(mux), nil
}

func (req launchRequest) validate() error {
	switch {
	case req.Compartment == "":
		return errors.New(`"compartment" is required`)
	case !compartmentRE.MatchString(req.Compartment):
		return errors.New(`"compartment" must be 1-63 lowercase letters, digits or dashes`)
	case len(req.DisplayName) > 255:
		return errors.New(`"displayName" is longer than 255 bytes`)
	case req.Shape != "" && !shapeRE.MatchString(req.Shape):
		return errors.New(`"shape" must be 1-64 letters, digits or dots`)
	}
	return nil
}

// decodeJSON reads exactly one JSON object into v, with a size limit and
// no unknown fields, and says precisely what is wrong otherwise.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q is not application/json", ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLaunchBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			return http.StatusBadRequest, errors.New("malformed JSON: data after the object")
		}
		return 0, nil
	}
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxErr):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, errors.New("malformed JSON: empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, errors.New("malformed JSON: unexpected end of body")
	case errors.As(err, &syntaxErr):
		return http.StatusBadRequest, fmt.Errorf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.As(err, &typeErr):
		return http.StatusBadRequest, fmt.Errorf("malformed JSON: field %q must be a %v", typeErr.Field, typeErr.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return http.StatusBadRequest, fmt.Errorf("malformed JSON: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return http.StatusBadRequest, fmt.Errorf("malformed JSON: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	paved.WriteProblem(w, r, paved.Problem{Status: status, Detail: detail})
}
