package paved

import (
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// ContentTypeProblem is the media type of RFC 9457 problem details in
// JSON, the Content-Type of every response WriteProblem and WriteError
// send.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details object, the body paved sends for
// every error. The zero Type means "about:blank" (the problem is what the
// status says, nothing more) and the zero Title the status's reason
// phrase, as the RFC asks for about:blank.
//
// A service that defines its own problem type sets Type to a URI that
// documents it, a Title that stays the same for every occurrence, and the
// extension members the type defines:
//
//	paved.Problem{
//		Type:       "https://api.example.com/problems/quota-exceeded",
//		Title:      "Launch quota exceeded",
//		Status:     http.StatusTooManyRequests,
//		RetryAfter: 30 * time.Second,
//		Extensions: []paved.Extension{{Name: "quota", Value: "launch"}},
//	}
type Problem struct {
	// Type is a URI reference identifying the problem type; "" means
	// "about:blank".
	Type string
	// Title is a short summary of the problem type, the same for every
	// occurrence; "" means the status's reason phrase, which is also the
	// title of every about:blank problem (RFC 9457 section 4.2.1): a
	// title of its own needs a Type of its own.
	Title string
	// Status is the HTTP status, sent both as the response's status and
	// as the "status" member, which RFC 9457 requires to agree. A problem
	// is an error: a Status that is not a 4xx or 5xx code is sent as 500.
	Status int
	// Detail explains this occurrence to the client, to help it correct
	// the problem; never secrets, internals or stack traces. "" leaves
	// the member out.
	Detail string
	// Instance is a URI reference identifying this occurrence; "" leaves
	// the member out.
	Instance string
	// RetryAfter, when positive, is sent as the Retry-After header in
	// whole seconds, rounded up.
	RetryAfter time.Duration
	// Extensions are the members the problem type defines beyond the
	// standard ones (RFC 9457 section 3.2), written in order. Clients
	// ignore members they do not know, so a type can add members later.
	// A member is left out when its name is not at least three letters,
	// digits or underscores starting with a letter (section 4, so it
	// serializes in other formats too), is one the writer owns (type,
	// title, status, detail, instance, correlation_id), repeats an
	// earlier name, or when its value does not encode as JSON.
	Extensions []Extension
}

// Extension is one extension member of a Problem, a Name and a Value.
// The Value is encoded as encoding/json encodes it: strings, numbers, bools, nil, slices, maps,
// structs and json.RawMessage all work.
type Extension = httpx.Extension

// ProblemOf returns the problem WriteError sends for err: its status
// (HTTPStatus), its retry delay (RetryDelay, at least one second), and
// as detail the message of the error that decides the status (one of
// paved's errors, an *Error, any error declaring HTTPStatus, a context
// error or an *http.MaxBytesError), never the text wrapped around it,
// which may name internal addresses, queries or credentials. Any other
// error gets no detail at all. Change what it returns to send a problem
// type of your own for an error:
//
//	p := paved.ProblemOf(err)
//	p.Type = "https://api.example.com/problems/quota-exceeded"
//	paved.WriteProblem(w, r, p)
func ProblemOf(err error) Problem {
	hp := httpx.ProblemOf(err)
	return Problem{Status: hp.Status, Detail: hp.Detail, RetryAfter: hp.RetryAfter}
}

// WriteProblem sends p as the whole response to r: p's status, an
// application/problem+json body with the request's correlation id (the
// "correlation_id" member, when r's context carries one), Retry-After
// when p.RetryAfter is positive, and Cache-Control: no-store. Headers set
// before the call (WWW-Authenticate, Allow, RateLimit) are kept. A nil r
// writes no correlation id.
//
// When w is a ResponseWriter (NewResponseWriter) that already sent its
// header, WriteProblem writes nothing: a response's status cannot change
// once sent.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	hp := httpx.Problem{
		Type:       p.Type,
		Title:      p.Title,
		Status:     p.Status,
		Detail:     p.Detail,
		Instance:   p.Instance,
		RetryAfter: p.RetryAfter,
		Extensions: p.Extensions,
	}
	if r != nil {
		hp.CorrelationID = httpx.CorrelationID(r.Context())
	}
	httpx.WriteProblem(w, hp)
}

// WriteError answers r with the problem err maps to, exactly as paved's
// own middleware answers its errors: ProblemOf(err) written by
// WriteProblem. An error paved does not know is a bare 500 ("Internal
// Server Error", no detail) that never echoes its message; log it
// yourself. A request the client canceled is answered 499
// (StatusClientClosedRequest) for the access log, a passed deadline 504,
// so no error path ever ends in an implicit 200.
//
// A nil err is a programming error and is answered 500, never success.
// WriteError costs four allocations (three header values and the body),
// six with Retry-After; http.Error's plain text costs three (go test
// -bench WriteError: about 1 µs either way on a loaded 2-core machine).
func WriteError(w http.ResponseWriter, r *http.Request, err error) { httpx.WriteError(w, r, err) }
