package faults

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits on a rule set, so a mistaken or hostile control request cannot
// make the injector hold much or stall requests for long.
const (
	// MaxRules is the most rules an Injector holds.
	MaxRules = 64
	// MaxLatency is the longest latency (plus jitter) a rule may inject.
	MaxLatency = 5 * time.Minute
	maxNameLen = 64
)

// Rule is one fault: what it injects, into which requests, and how often.
// A rule injects latency (Latency, Jitter), optionally followed by one of
// an error (Status or GRPCCode), a connection reset (Reset) or an aborted
// response (Abort). Rules are checked in order; the first that matches a
// request and wins its draw (Percent) applies, and no other rule does.
//
// Its JSON form, the control endpoint's, is
//
//	{"name":"drill","percent":50,"status":503,
//	 "latency":"200ms","jitter":"50ms","grpc_code":"UNAVAILABLE","reset":true,"abort":true,
//	 "match":{"method":"GET","route":"GET /instances/{id}","path_prefix":"/instances",
//	          "host":"upstream:8080","header":"X-Drill: on","principal":"ops",
//	          "grpc_method":"/pkg.Svc/Method"}}
//
// with durations as Go duration strings and every field but name and
// percent optional.
type Rule struct {
	// Name names the rule in the Paved-Fault header, logs, spans and
	// metrics: 1 to 64 letters, digits, '.', '_' or '-', unique in a set.
	Name string
	// Percent is the share of matching requests the rule applies to, in
	// (0, 100].
	Percent float64
	// Match selects the requests the rule applies to; the zero Match
	// matches every request.
	Match Match
	// Latency delays the request before it goes on (or fails); Jitter
	// adds a uniform random delay in [0, Jitter). Together at most
	// MaxLatency. A request whose context ends during the delay ends
	// at once with the context's error.
	Latency, Jitter time.Duration
	// Status answers with this HTTP status (400-599) instead of the
	// handler or upstream: problem+json from middleware, a synthetic
	// response from a transport. GRPCCode, a code's name such as
	// "UNAVAILABLE", fails gRPC calls with that code. Either one given
	// alone also stands for the other, by the usual HTTP <-> gRPC pairing.
	Status   int
	GRPCCode string
	// Reset drops the connection without a response: middleware resets
	// the client's connection, a transport fails with an error that
	// unwraps to syscall.ECONNRESET without sending the request, gRPC
	// calls fail with UNAVAILABLE.
	Reset bool
	// Abort lets the request through and breaks its response: the
	// handler (or upstream) runs, the headers and part of the body are
	// sent, then the connection dies; a transport's response body fails
	// when read past that part; gRPC calls fail with UNAVAILABLE after
	// the handler ran (the first message of a server stream goes out).
	Abort bool
}

// Match selects requests by their attributes; every non-empty field must
// match. HTTP fields (Method, Route, PathPrefix) never match gRPC calls
// and GRPCMethod never matches HTTP requests.
type Match struct {
	// Method is the HTTP method, exactly ("GET").
	Method string
	// Route is the http.ServeMux pattern that routed the request
	// (r.Pattern), exactly: it matches only when the middleware runs
	// inside the mux, on the route.
	Route string
	// PathPrefix matches a request path starting with it.
	PathPrefix string
	// Host is the host (with the port when the request names one) a
	// transport calls or a server is addressed by (r.Host); a gRPC
	// server's :authority, a gRPC client's target.
	Host string
	// Header is "Name: value" for a header (gRPC metadata) with that
	// value, or "Name" for a header present with any value.
	Header string
	// Principal is the id of the authenticated caller
	// (authz.FromContext), so a drill can target a test account.
	Principal string
	// GRPCMethod is a gRPC full method ("/pkg.Svc/Method"), or a
	// service prefix ending in '/' ("/pkg.Svc/").
	GRPCMethod string
}

// Kind names what a rule injects: "latency", "error", "reset" or "abort"
// (a rule that delays and then fails is of the failure's kind).
func (r Rule) Kind() string {
	switch {
	case r.Reset:
		return KindReset
	case r.Abort:
		return KindAbort
	case r.Status != 0 || r.GRPCCode != "":
		return KindError
	}
	return KindLatency
}

// Kinds of fault, the values of Rule.Kind and of the kind attribute of
// logs and metrics.
const (
	KindLatency = "latency" // a delay alone
	KindError   = "error"   // an error status or code
	KindReset   = "reset"   // a dropped connection
	KindAbort   = "abort"   // a response broken off
)

// validate reports everything wrong with rs, each error naming its rule.
func validate(rs []Rule) error {
	var errs []error
	if len(rs) > MaxRules {
		errs = append(errs, errors.New("faults: "+strconv.Itoa(len(rs))+" rules, at most "+strconv.Itoa(MaxRules)))
	}
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		bad := func(msg string) {
			errs = append(errs, errors.New("faults: rule "+strconv.Itoa(i)+" ("+strconv.Quote(r.Name)+"): "+msg))
		}
		if !validName(r.Name) {
			bad("name must be 1 to 64 letters, digits, '.', '_' or '-'")
		} else if seen[r.Name] {
			bad("name repeats an earlier rule's")
		}
		seen[r.Name] = true
		if !(r.Percent > 0 && r.Percent <= 100) {
			bad("percent " + strconv.FormatFloat(r.Percent, 'g', -1, 64) + " not in (0, 100]")
		}
		if r.Latency < 0 || r.Jitter < 0 {
			bad("negative latency or jitter")
		} else if r.Latency > MaxLatency || r.Jitter > MaxLatency-r.Latency {
			bad("latency plus jitter over " + MaxLatency.String())
		}
		if r.Status != 0 && (r.Status < 400 || r.Status > 599) {
			bad("status " + strconv.Itoa(r.Status) + " not in 400-599")
		}
		if r.GRPCCode != "" {
			if c := codeIndex(r.GRPCCode); c <= 0 {
				bad("grpc_code " + strconv.Quote(r.GRPCCode) + " is not a gRPC code name other than OK")
			}
		}
		n := 0
		for _, b := range []bool{r.Status != 0 || r.GRPCCode != "", r.Reset, r.Abort} {
			if b {
				n++
			}
		}
		if n > 1 {
			bad("at most one of an error (status, grpc_code), reset and abort")
		}
		if n == 0 && r.Latency == 0 && r.Jitter == 0 {
			bad("injects nothing: give latency, jitter, status, grpc_code, reset or abort")
		}
		m := r.Match
		if m.Method != "" && !token(m.Method) {
			bad("match.method " + strconv.Quote(m.Method) + " is not an HTTP method")
		}
		if m.PathPrefix != "" && m.PathPrefix[0] != '/' {
			bad("match.path_prefix must start with '/'")
		}
		if m.GRPCMethod != "" && m.GRPCMethod[0] != '/' {
			bad("match.grpc_method must start with '/'")
		}
		if m.Header != "" {
			if name, _, _ := splitHeader(m.Header); !token(name) {
				bad("match.header must be \"Name: value\" or \"Name\"")
			}
		}
		if (m.Method != "" || m.Route != "" || m.PathPrefix != "") && m.GRPCMethod != "" {
			bad("match.grpc_method with an HTTP field (method, route, path_prefix) matches nothing")
		}
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// token reports whether s is an RFC 9110 token (a method or header name).
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// splitHeader splits "Name: value" (or "Name") into its trimmed parts;
// hasValue is false for a bare name.
func splitHeader(s string) (name, value string, hasValue bool) {
	name, value, hasValue = strings.Cut(s, ":")
	return strings.TrimSpace(name), strings.TrimSpace(value), hasValue
}

// grpcCodes are the gRPC code names, indexed by code.
var grpcCodes = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// codeIndex returns the code numbered by name, or -1.
func codeIndex(name string) int {
	for i, n := range grpcCodes {
		if n == name {
			return i
		}
	}
	return -1
}

// httpOfCode is the HTTP status google.rpc.Code pairs with each code.
var httpOfCode = [...]int{200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401}

// GRPCCodeNumber returns the gRPC code (as its number) a rule fails gRPC
// calls with: GRPCCode when set, else the code paired with Status, and
// ok false for a rule that injects no error. Package faultsgrpc uses it.
func (r Rule) GRPCCodeNumber() (code uint32, ok bool) {
	if c := codeIndex(r.GRPCCode); c > 0 {
		return uint32(c), true
	}
	if r.Status == 0 {
		return 0, false
	}
	return codeOfHTTP(r.Status), true
}

func codeOfHTTP(status int) uint32 {
	switch status {
	case 400, 413, 415:
		return 3
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 5
	case 409:
		return 10
	case 412:
		return 9
	case 416:
		return 11
	case 429:
		return 8
	case 499:
		return 1
	case 501, 405:
		return 12
	case 502, 503:
		return 14
	case 504:
		return 4
	}
	if status < 500 {
		return 9
	}
	return 13
}

// httpStatus is the HTTP status an error rule answers with.
func (r Rule) httpStatus() int {
	if r.Status != 0 {
		return r.Status
	}
	if c := codeIndex(r.GRPCCode); c > 0 {
		return httpOfCode[c]
	}
	return http.StatusInternalServerError
}

// ruleJSON is Rule's JSON form.
type ruleJSON struct {
	Name     string    `json:"name"`
	Percent  float64   `json:"percent"`
	Match    matchJSON `json:"match,omitzero"`
	Latency  string    `json:"latency,omitempty"`
	Jitter   string    `json:"jitter,omitempty"`
	Status   int       `json:"status,omitempty"`
	GRPCCode string    `json:"grpc_code,omitempty"`
	Reset    bool      `json:"reset,omitempty"`
	Abort    bool      `json:"abort,omitempty"`
}

type matchJSON struct {
	Method     string `json:"method,omitempty"`
	Route      string `json:"route,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	Host       string `json:"host,omitempty"`
	Header     string `json:"header,omitempty"`
	Principal  string `json:"principal,omitempty"`
	GRPCMethod string `json:"grpc_method,omitempty"`
}

// MarshalJSON writes the rule's JSON form, durations as Go duration
// strings ("200ms").
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{Name: r.Name, Percent: r.Percent, Match: matchJSON(r.Match),
		Status: r.Status, GRPCCode: r.GRPCCode, Reset: r.Reset, Abort: r.Abort}
	if r.Latency != 0 {
		j.Latency = r.Latency.String()
	}
	if r.Jitter != 0 {
		j.Jitter = r.Jitter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the rule's JSON form. Unknown fields are an error,
// so a misspelt field never turns into a broader fault than meant.
// It does not validate the rule: Set does.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var j ruleJSON
	if err := strictDecode(b, &j); err != nil {
		return err
	}
	lat, err := duration("latency", j.Latency)
	if err != nil {
		return err
	}
	jit, err := duration("jitter", j.Jitter)
	if err != nil {
		return err
	}
	*r = Rule{Name: j.Name, Percent: j.Percent, Match: Match(j.Match), Latency: lat, Jitter: jit,
		Status: j.Status, GRPCCode: j.GRPCCode, Reset: j.Reset, Abort: j.Abort}
	return nil
}

func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("faults: " + field + " " + strconv.Quote(s) + " is not a duration such as \"200ms\"")
	}
	return d, nil
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("faults: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// percentThreshold is the draw (a uniform uint64) under which a rule of
// percent p applies; 100% always applies.
func percentThreshold(p float64) uint64 {
	if p >= 100 {
		return math.MaxUint64
	}
	return uint64(p / 100 * (1 << 64))
}
