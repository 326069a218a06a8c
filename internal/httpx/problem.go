package httpx

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// ContentTypeProblem is the media type of RFC 9457 problem details.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details object. Type defaults to
// "about:blank" and Title to the status text, as the RFC asks for when no
// more specific type is defined.
type Problem struct {
	Type     string // a URI reference; "" means "about:blank"
	Title    string // "" means StatusText(Status), as it always is without a Type
	Status   int    // a 4xx or 5xx code; anything else is sent as 500
	Detail   string // human-readable; never secrets or stack traces
	Instance string // optional URI reference of this occurrence
	// CorrelationID is the request's correlation id, written as the
	// "correlation_id" extension member when not empty.
	CorrelationID string
	// RetryAfter, when positive, is sent as the Retry-After header
	// (RetryAfterSeconds).
	RetryAfter time.Duration
	// Extensions are further members of the object (RFC 9457 section
	// 3.2), written in order after the standard ones. A member whose
	// name is not ValidExtensionName, is reserved (a standard member or
	// correlation_id), repeats an earlier name, or whose value does not
	// encode as JSON is left out.
	Extensions []Extension
}

// Extension is one extension member of a Problem: a name and a value
// that encodes as JSON (encoding/json rules; strings, bools, integers and
// nil take a path without reflection).
type Extension struct {
	Name  string
	Value any
}

// ProblemStatus returns the status a problem with status code s is sent
// with: s when it is a client or server error (4xx, 5xx), else 500. A
// problem describes an error, so it never goes out as a success, a
// redirect or a 1xx, and the status member always equals the response's
// status (RFC 9457 section 3.1.2).
func ProblemStatus(s int) int {
	if s < 400 || s > 599 {
		return http.StatusInternalServerError
	}
	return s
}

// StatusText is http.StatusText that also names
// StatusClientClosedRequest.
func StatusText(code int) string {
	if code == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	return http.StatusText(code)
}

// ValidExtensionName reports whether name is fit for an extension member
// (RFC 9457 section 4): a letter, then letters, digits or underscores, at
// least three characters in all, so it serializes in formats other than
// JSON too.
func ValidExtensionName(name string) bool {
	if len(name) < 3 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// reserved reports whether name is a member the writer itself owns.
func reserved(name string) bool {
	switch name {
	case "type", "title", "status", "detail", "instance", "correlation_id":
		return true
	}
	return false
}

// WriteProblem sends p as the whole response: status, an
// application/problem+json body and no-store caching. Headers the caller
// set before (Retry-After, WWW-Authenticate, Allow) are kept. When w is a
// *ResponseWriter that already sent its header, nothing is written: the
// status of a response cannot change once sent, and a problem appended to
// a body already under way would corrupt it.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if rw, ok := w.(*ResponseWriter); ok && rw.WroteHeader() {
		return
	}
	status := ProblemStatus(p.Status)
	h := w.Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", RetryAfterSeconds(p.RetryAfter))
	}
	h.Del("Content-Length")
	h.Set("Content-Type", ContentTypeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(p.AppendJSON(make([]byte, 0, 256)))
}

// AppendJSON appends p as a JSON object to b.
func (p Problem) AppendJSON(b []byte) []byte {
	status := ProblemStatus(p.Status)
	typ, title := p.Type, p.Title
	if typ == "" || typ == "about:blank" {
		// RFC 9457 section 4.2.1: with about:blank the title is the
		// status's reason phrase; a title of its own needs a type of its
		// own.
		typ, title = "about:blank", StatusText(status)
	} else if title == "" {
		title = StatusText(status)
	}
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	if title != "" {
		b = append(b, `,"title":`...)
		b = appendString(b, title)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if p.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendString(b, p.Detail)
	}
	if p.Instance != "" {
		b = append(b, `,"instance":`...)
		b = appendString(b, p.Instance)
	}
	if p.CorrelationID != "" {
		b = append(b, `,"correlation_id":`...)
		b = appendString(b, p.CorrelationID)
	}
	for i, e := range p.Extensions {
		if !ValidExtensionName(e.Name) || reserved(e.Name) || repeated(p.Extensions[:i], e.Name) {
			continue
		}
		mark := len(b)
		b = append(b, ',')
		b = appendString(b, e.Name)
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, e.Value); !ok {
			b = b[:mark]
		}
	}
	return append(b, '}')
}

func repeated(before []Extension, name string) bool {
	for _, e := range before {
		if e.Name == name {
			return true
		}
	}
	return false
}

// appendValue appends v as JSON, reporting false (with b possibly
// extended, for the caller to cut) when v does not encode.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

// WriteError answers r with the problem err maps to (StatusOf), setting
// Retry-After when err carries a retry delay that is not negative (a
// negative one says "do not retry"). The detail is
// PublicMessage(err): the message of the project, context or body-size
// error in err's chain, never the text wrapped around it; other errors get
// only the generic status text, so internals never reach the client. The
// correlation id comes from r's context.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(err)
	if r != nil {
		p.CorrelationID = CorrelationID(r.Context())
	}
	WriteProblem(w, p)
}

// ProblemOf is the problem WriteError sends for err: its status, the
// public message as detail, and its retry delay, when one is given and
// not negative ("do not retry"), as RetryAfter of at least a second.
func ProblemOf(err error) Problem {
	p := Problem{Status: StatusOf(err), Detail: PublicMessage(err)}
	if d, ok := RetryDelayOf(err); ok && d >= 0 {
		p.RetryAfter = max(d, time.Second)
	}
	return p
}

// RetryAfterSeconds formats d as a Retry-After delay-seconds value:
// CeilSeconds(d, 1), so a client never retries too early or reads 0 as
// "now".
func RetryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(CeilSeconds(d, 1), 10)
}

// CeilSeconds returns d in whole seconds rounded up, at least least and at
// most math.MaxInt32 (what every Retry-After reader can hold). It is the
// one rounding rule for delays sent in headers, so a RateLimit t= value
// and the Retry-After beside it always agree.
func CeilSeconds(d time.Duration, least int64) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return min(max(s, least), math.MaxInt32)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// <, >, & and the JS line separators are escaped as encoding/json does, so
// the body is safe to embed in HTML.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
