package paved_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/internal/httpx"
)

// members decodes a problem body into its members in order, failing on
// anything but one JSON object with unique member names (RFC 8259 section
// 4: names SHOULD be unique, and readers disagree on duplicates).
func members(t *testing.T, body []byte) (names []string, m map[string]any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	m = make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		name := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("body %q: member %q: %v", body, name, err)
		}
		if _, dup := m[name]; dup {
			t.Fatalf("body %q repeats member %q", body, name)
		}
		names = append(names, name)
		m[name] = v
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("body %q has data after the object", body)
	}
	return names, m
}

func withCorrelation(r *http.Request, id string) *http.Request {
	return r.WithContext(httpx.WithCorrelationID(r.Context(), id))
}

func writeProblem(p paved.Problem) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	paved.WriteProblem(w, httptest.NewRequest("GET", "/instances/x", nil), p)
	return w
}

// The tests below are named after the section of RFC 9457 whose
// requirement they check.

func TestRFC9457Section3MediaType(t *testing.T) {
	for _, w := range []*httptest.ResponseRecorder{
		writeProblem(paved.Problem{Status: 404}),
		func() *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			paved.WriteError(w, httptest.NewRequest("GET", "/", nil), errors.New("boom"))
			return w
		}(),
	} {
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" || paved.ContentTypeProblem != "application/problem+json" {
			t.Errorf("Content-Type = %q, want application/problem+json", ct)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Error("no X-Content-Type-Options: nosniff")
		}
		members(t, w.Body.Bytes())
	}
}

func TestRFC9457Section3_1MemberTypes(t *testing.T) {
	// Each standard member has the JSON type the RFC gives it, so no
	// consumer has to ignore it (section 3.1).
	w := writeProblem(paved.Problem{Type: "https://example.com/probs/out-of-credit", Title: "You do not have enough credit.",
		Status: 403, Detail: "Your current balance is 30, but that costs 50.", Instance: "/account/12345/msgs/abc"})
	_, m := members(t, w.Body.Bytes())
	for _, name := range []string{"type", "title", "detail", "instance"} {
		if _, ok := m[name].(string); !ok {
			t.Errorf("%q is %T, want a string", name, m[name])
		}
	}
	if n, ok := m["status"].(json.Number); !ok || n.String() != "403" {
		t.Errorf("status is %#v, want the number 403", m["status"])
	}
}

func TestRFC9457Section3_1_1Type(t *testing.T) {
	tests := []struct {
		name, typ, want string
	}{
		{"absent type is about:blank", "", "about:blank"},
		{"absolute URI kept", "https://example.com/probs/out-of-credit", "https://example.com/probs/out-of-credit"},
		{"tag URI kept", "tag:example@example.org,2021-09-17:OutOfLuck", "tag:example@example.org,2021-09-17:OutOfLuck"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, m := members(t, writeProblem(paved.Problem{Type: tc.typ, Status: 400}).Body.Bytes())
			if m["type"] != tc.want {
				t.Fatalf("type = %v, want %q", m["type"], tc.want)
			}
		})
	}
}

func TestRFC9457Section3_1_2StatusMatchesResponse(t *testing.T) {
	// "Generators MUST use the same status code in the actual HTTP
	// response." A problem is an error: a code that is not 4xx or 5xx
	// (which would read as success, a redirect or an unfinished 1xx) is
	// sent as 500, in the member and the response alike.
	tests := []struct {
		name   string
		status int
		want   int
	}{
		{"404", 404, 404},
		{"429", 429, 429},
		{"499", paved.StatusClientClosedRequest, 499},
		{"599", 599, 599},
		{"zero", 0, 500},
		{"negative", -1, 500},
		{"success", 200, 500},
		{"no content", 204, 500},
		{"redirect", 302, 500},
		{"early hints", 103, 500},
		{"beyond 599", 600, 500},
		{"huge", math.MaxInt32, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := writeProblem(paved.Problem{Status: tc.status})
			_, m := members(t, w.Body.Bytes())
			if w.Code != tc.want || fmt.Sprint(m["status"]) != fmt.Sprint(tc.want) {
				t.Fatalf("response %d, member %v, want both %d", w.Code, m["status"], tc.want)
			}
		})
	}
}

func TestRFC9457Section3_1_3TitleIsTheSameForEveryOccurrence(t *testing.T) {
	// The title summarises the type, not the occurrence: errors of one
	// status with different details share it.
	var titles []string
	for _, err := range []error{
		paved.NewError(409, "orders: already shipped"),
		paved.NewError(409, "orders: already canceled"),
		fmt.Errorf("wrapped: %w", paved.NewError(409, "orders: locked")),
	} {
		w := httptest.NewRecorder()
		paved.WriteError(w, httptest.NewRequest("POST", "/", nil), err)
		_, m := members(t, w.Body.Bytes())
		titles = append(titles, fmt.Sprint(m["title"]))
	}
	if titles[0] != "Conflict" || titles[1] != titles[0] || titles[2] != titles[0] {
		t.Fatalf("titles %q, want Conflict for each", titles)
	}
}

func TestRFC9457Section3_1_4DetailNeverCarriesInternals(t *testing.T) {
	const secret = "password=hunter2"
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string // "" means no detail member
	}{
		{"foreign error", errors.New("db " + secret + " rejected"), 500, ""},
		{"wrapped vocabulary error", fmt.Errorf("GET /x?%s: %w", secret, paved.NewError(409, "orders: already shipped")), 409, "orders: already shipped"},
		{"url error around a deadline", &url.Error{Op: "Get", URL: "http://10.0.0.7/?" + secret, Err: context.DeadlineExceeded}, 504, "context deadline exceeded"},
		{"joined with a transport error", errors.Join(errors.New("dial 10.0.0.7: "+secret), paved.NewError(503, "inventory: down")), 503, "inventory: down"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			paved.WriteError(w, httptest.NewRequest("GET", "/", nil), tc.err)
			if strings.Contains(w.Body.String(), secret) || strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Fatalf("body echoes internals: %s", w.Body)
			}
			_, m := members(t, w.Body.Bytes())
			detail, has := m["detail"]
			if w.Code != tc.wantStatus || (tc.wantDetail == "") == has || (has && detail != tc.wantDetail) {
				t.Fatalf("got %d detail %v (present %v), want %d %q", w.Code, detail, has, tc.wantStatus, tc.wantDetail)
			}
		})
	}
}

func TestRFC9457Section3_1_5Instance(t *testing.T) {
	_, m := members(t, writeProblem(paved.Problem{Status: 404, Instance: "/account/12345/msgs/abc"}).Body.Bytes())
	if m["instance"] != "/account/12345/msgs/abc" {
		t.Fatalf("instance = %v", m["instance"])
	}
	if _, m := members(t, writeProblem(paved.Problem{Status: 404}).Body.Bytes()); m["instance"] != nil {
		t.Fatalf("empty instance written: %v", m["instance"])
	}
}

func TestRFC9457Section3_2ExtensionMembers(t *testing.T) {
	// The RFC's own example: an out-of-credit problem with two
	// extensions, a number and an array.
	w := httptest.NewRecorder()
	r := withCorrelation(httptest.NewRequest("POST", "/purchase", nil), "req-1")
	paved.WriteProblem(w, r, paved.Problem{
		Type:     "https://example.com/probs/out-of-credit",
		Title:    "You do not have enough credit.",
		Status:   http.StatusForbidden,
		Detail:   "Your current balance is 30, but that costs 50.",
		Instance: "/account/12345/msgs/abc",
		Extensions: []paved.Extension{
			{Name: "balance", Value: 30},
			{Name: "accounts", Value: []string{"/account/12345", "/account/67890"}},
		},
	})
	want := `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","status":403,` +
		`"detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc",` +
		`"correlation_id":"req-1","balance":30,"accounts":["/account/12345","/account/67890"]}`
	if w.Body.String() != want {
		t.Fatalf("body\n%s\nwant\n%s", w.Body, want)
	}
}

func TestRFC9457Section3_2ExtensionValues(t *testing.T) {
	type quota struct {
		Policy string `json:"policy"`
		Limit  int    `json:"limit"`
	}
	tests := []struct {
		name  string
		value any
		want  string // the member's JSON; "" means left out
	}{
		{"string", "launch", `"launch"`},
		{"escaped string", "<a>&\"\n", `"\u003ca\u003e\u0026\"\n"`},
		{"invalid UTF-8", "bad\xff", `"bad\ufffd"`},
		{"int", -7, `-7`},
		{"int64", int64(1) << 40, `1099511627776`},
		{"uint", uint(3), `3`},
		{"float", 0.5, `0.5`},
		{"bool", true, `true`},
		{"nil", nil, `null`},
		{"struct", quota{"launch", 2}, `{"policy":"launch","limit":2}`},
		{"map", map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		{"raw JSON", json.RawMessage(`{"a": [1, 2]}`), `{"a":[1,2]}`},
		{"duration is a number", 2 * time.Second, `2000000000`},
		{"NaN does not encode", math.NaN(), ""},
		{"channel does not encode", make(chan int), ""},
		{"invalid raw JSON", json.RawMessage(`{`), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := writeProblem(paved.Problem{Status: 400, Extensions: []paved.Extension{{Name: "value", Value: tc.value}, {Name: "after", Value: 1}}})
			names, _ := members(t, w.Body.Bytes())
			body := w.Body.String()
			if tc.want == "" {
				if slices.Contains(names, "value") {
					t.Fatalf("unencodable value written: %s", body)
				}
			} else if !strings.Contains(body, `"value":`+tc.want+`,"after":1}`) {
				t.Fatalf("body %s lacks \"value\":%s", body, tc.want)
			}
			if !slices.Contains(names, "after") {
				t.Fatalf("a bad member took the next one with it: %s", body)
			}
		})
	}
}

func TestRFC9457Section4ExtensionMemberNames(t *testing.T) {
	// Names SHOULD start with a letter, consist of letters, digits and
	// "_", and be three characters or longer; the standard members and the
	// correlation id are the writer's own. Anything else is left out, so
	// the object stays valid and every name unique.
	tests := []struct {
		name    string
		ext     string
		written bool
	}{
		{"letters", "balance", true},
		{"underscore and digits", "retry_after_s2", true},
		{"upper case", "Quota", true},
		{"three characters", "abc", true},
		{"two characters", "ab", false},
		{"empty", "", false},
		{"leading digit", "2fa", false},
		{"leading underscore", "_private", false},
		{"dash", "invalid-params", false},
		{"dot", "quota.limit", false},
		{"space", "my quota", false},
		{"non-ASCII letter", "quotä", false},
		{"quote", `a"b"c`, false},
		{"standard member type", "type", false},
		{"standard member status", "status", false},
		{"standard member title", "title", false},
		{"standard member detail", "detail", false},
		{"standard member instance", "instance", false},
		{"correlation id", "correlation_id", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := withCorrelation(httptest.NewRequest("GET", "/", nil), "req-1")
			paved.WriteProblem(w, r, paved.Problem{Status: 429, Detail: "d", Instance: "/i",
				Extensions: []paved.Extension{{Name: tc.ext, Value: "injected"}}})
			names, m := members(t, w.Body.Bytes())
			if got := slices.Contains(names, tc.ext) && m[tc.ext] == "injected"; got != tc.written {
				t.Fatalf("member %q written %v, want %v: %s", tc.ext, got, tc.written, w.Body)
			}
			if fmt.Sprint(m["status"]) != "429" || m["correlation_id"] != "req-1" || m["type"] != "about:blank" {
				t.Fatalf("an extension replaced a standard member: %s", w.Body)
			}
		})
	}
	t.Run("repeated name keeps the first", func(t *testing.T) {
		w := writeProblem(paved.Problem{Status: 400, Extensions: []paved.Extension{{Name: "quota", Value: 1}, {Name: "quota", Value: 2}}})
		if _, m := members(t, w.Body.Bytes()); fmt.Sprint(m["quota"]) != "1" {
			t.Fatalf("quota = %v, want 1", m["quota"])
		}
	})
}

func TestRFC9457Section4RetryAfter(t *testing.T) {
	// A problem type MAY use Retry-After: Problem.RetryAfter sends it in
	// whole seconds, rounded up so a client never comes back too early.
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
		{math.MaxInt64, "2147483647"},
	}
	for _, tc := range tests {
		t.Run(tc.d.String(), func(t *testing.T) {
			w := writeProblem(paved.Problem{Status: 429, RetryAfter: tc.d})
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRFC9457Section4_2_1AboutBlankTitle(t *testing.T) {
	// With about:blank the title is the status's reason phrase.
	for _, status := range []int{400, 401, 403, 404, 405, 409, 413, 429, 500, 502, 503, 504} {
		_, m := members(t, writeProblem(paved.Problem{Status: status}).Body.Bytes())
		if m["type"] != "about:blank" || m["title"] != http.StatusText(status) {
			t.Errorf("%d: type %v title %v, want about:blank %q", status, m["type"], m["title"], http.StatusText(status))
		}
	}
	_, m := members(t, writeProblem(paved.Problem{Status: paved.StatusClientClosedRequest}).Body.Bytes())
	if m["title"] != "Client Closed Request" {
		t.Errorf("499 title %v", m["title"])
	}
	// A title of its own does not replace the phrase: it needs a type of
	// its own (the section's SHOULD).
	for _, typ := range []string{"", "about:blank"} {
		if _, m := members(t, writeProblem(paved.Problem{Type: typ, Title: "Out of stock", Status: 409}).Body.Bytes()); m["title"] != "Conflict" {
			t.Errorf("type %q with title Out of stock: title %v, want Conflict", typ, m["title"])
		}
	}
	// A status net/http has no phrase for gets no title rather than an
	// empty one.
	if _, m := members(t, writeProblem(paved.Problem{Status: 490}).Body.Bytes()); m["title"] != nil {
		t.Errorf("490 title %v, want none", m["title"])
	}
}

func TestRFC9457Section5StatusCannotDisagree(t *testing.T) {
	// Once a response's header is out, its status cannot change: a
	// problem written after it would disagree with the status the client
	// has (and corrupt the body), so nothing is written.
	w := httptest.NewRecorder()
	rw := paved.NewResponseWriter(w)
	rw.WriteHeader(http.StatusOK)
	rw.Write([]byte(`{"items":[`))
	paved.WriteError(rw, httptest.NewRequest("GET", "/", nil), paved.NewError(503, "inventory: down"))
	if w.Code != 200 || w.Body.String() != `{"items":[` || w.Header().Get("Content-Type") == paved.ContentTypeProblem {
		t.Fatalf("problem written after the header: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

func TestWriteProblemHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Allow", "GET")
	w.Header().Set("Content-Length", "999")
	paved.WriteProblem(w, httptest.NewRequest("PUT", "/", nil), paved.Problem{Status: 405})
	if w.Header().Get("Allow") != "GET" || w.Header().Get("Content-Length") != "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", w.Header())
	}
}

// slowDown is a user's own error type joining the vocabulary through the
// method contract.
type slowDown struct{ wait time.Duration }

func (e slowDown) Error() string             { return "orders: slow down" }
func (e slowDown) HTTPStatus() int           { return http.StatusTooManyRequests }
func (e slowDown) RetryDelay() time.Duration { return e.wait }

var errShipped = paved.NewError(http.StatusConflict, "orders: already shipped")

func TestWriteError(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantDetail     string
		wantRetryAfter string
	}{
		{"NewError", errShipped, 409, "orders: already shipped", ""},
		{"wrapped NewError", fmt.Errorf("ship %d: %w", 7, errShipped), 409, "orders: already shipped", ""},
		{"own type with retry delay", slowDown{1500 * time.Millisecond}, 429, "orders: slow down", "2"},
		{"retry delay under a second", slowDown{time.Millisecond}, 429, "orders: slow down", "1"},
		{"zero retry delay", slowDown{0}, 429, "orders: slow down", "1"},
		{"deadline", fmt.Errorf("upstream: %w", context.DeadlineExceeded), 504, "context deadline exceeded", ""},
		{"client canceled", context.Canceled, 499, "context canceled", ""},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, "http: request body too large", ""},
		{"foreign", errors.New("boom"), 500, "", ""},
		{"nil is a programming error, not a success", nil, 500, "", ""},
		{"status outside 4xx and 5xx", paved.NewError(http.StatusOK, "orders: fine?"), 500, "orders: fine?", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := withCorrelation(httptest.NewRequest("GET", "/", nil), "req-1")
			paved.WriteError(w, r, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
			_, m := members(t, w.Body.Bytes())
			if d, _ := m["detail"].(string); d != tc.wantDetail || m["correlation_id"] != "req-1" {
				t.Errorf("problem %s", w.Body)
			}
		})
	}
}

func TestHTTPStatusAndRetryDelay(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		want      int
		wantDelay time.Duration
		wantOK    bool
	}{
		{"nil", nil, 200, 0, false},
		{"NewError", errShipped, 409, 0, false},
		{"typed error refines the sentinel it wraps", fmt.Errorf("%w", slowDown{time.Second}), 429, time.Second, true},
		{"deadline", context.DeadlineExceeded, 504, 0, false},
		{"canceled", fmt.Errorf("read: %w", context.Canceled), paved.StatusClientClosedRequest, 0, false},
		{"max bytes", &http.MaxBytesError{}, 413, 0, false},
		{"foreign", errors.New("x"), 500, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := paved.HTTPStatus(tc.err); got != tc.want {
				t.Errorf("HTTPStatus = %d, want %d", got, tc.want)
			}
			if d, ok := paved.RetryDelay(tc.err); d != tc.wantDelay || ok != tc.wantOK {
				t.Errorf("RetryDelay = %v, %v; want %v, %v", d, ok, tc.wantDelay, tc.wantOK)
			}
		})
	}
}

func TestNewErrorIsComparable(t *testing.T) {
	err := fmt.Errorf("x: %w", errShipped)
	if !errors.Is(err, errShipped) || errors.Is(err, paved.NewError(409, "orders: already shipped")) {
		t.Fatal("errors.Is must match NewError values by identity")
	}
	if errShipped.Error() != "orders: already shipped" || errShipped.HTTPStatus() != 409 {
		t.Fatal(errShipped)
	}
}

func TestProblemOf(t *testing.T) {
	p := paved.ProblemOf(fmt.Errorf("x: %w", slowDown{2 * time.Second}))
	if p.Status != 429 || p.Detail != "orders: slow down" || p.RetryAfter != 2*time.Second || p.Type != "" {
		t.Fatalf("ProblemOf = %+v", p)
	}
	if p := paved.ProblemOf(errors.New("secret")); p.Status != 500 || p.Detail != "" || p.RetryAfter != 0 {
		t.Fatalf("ProblemOf(foreign) = %+v", p)
	}
}

// FuzzProblemJSON checks that whatever text and extension names a
// problem carries, the body is one valid JSON object with unique member
// names, the text round-trips (invalid UTF-8 replaced, as encoding/json
// does), and an extension member is written exactly when its name is
// valid and not reserved.
func FuzzProblemJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te\`, "ctl\x00\x1f\n\t", "<>&", "\u2028\u2029", "bad\xffutf8", "ünïcødé 🚀", "status", "abc", "a_1"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, name string) {
		w := httptest.NewRecorder()
		r := withCorrelation(httptest.NewRequest("GET", "/", nil), text)
		paved.WriteProblem(w, r, paved.Problem{Type: text, Title: text, Status: 400, Detail: text, Instance: text,
			Extensions: []paved.Extension{{Name: name, Value: text}}})
		names, m := members(t, w.Body.Bytes())
		if fmt.Sprint(m["status"]) != "400" || w.Code != 400 {
			t.Fatalf("status changed: %d %s", w.Code, w.Body)
		}
		want := string([]rune(text)) // encoding/json replaces each invalid byte alike
		for _, member := range []string{"detail", "instance", "correlation_id"} {
			if text != "" && m[member] != want {
				t.Fatalf("%s %q round-tripped to %q", member, text, m[member])
			}
		}
		if slices.Contains([]string{"type", "title", "status", "detail", "instance", "correlation_id"}, name) {
			return // a standard member, checked above
		}
		valid := len(name) >= 3
		for i, c := range name {
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '_')) {
				valid = false
			}
		}
		if written := slices.Contains(names, name); written != valid || written && m[name] != want {
			t.Fatalf("extension %q written %v, want %v: %s", name, written, valid, w.Body)
		}
	})
}

// TestErrorIsNeverAnsweredAsSuccess: an error declaring a status that is
// not a 4xx or 5xx code is 500 for HTTPStatus, as WriteError answers it,
// never a 2xx or 3xx that would present a failure as a success.
func TestErrorIsNeverAnsweredAsSuccess(t *testing.T) {
	for _, status := range []int{0, 99, http.StatusOK, http.StatusNoContent, http.StatusFound, 1000, -1} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", paved.NewError(status, "orders: odd"))
			if got := paved.HTTPStatus(err); got != http.StatusInternalServerError {
				t.Errorf("HTTPStatus = %d, want 500", got)
			}
			w := httptest.NewRecorder()
			paved.WriteError(w, httptest.NewRequest("GET", "/", nil), err)
			if w.Code != http.StatusInternalServerError {
				t.Errorf("WriteError sent %d, want 500", w.Code)
			}
		})
	}
}

// TestDoNotRetrySendsNoRetryAfter: a negative retry delay means "do not
// retry" (retry.After(err, -1), an upstream's negative pushback); sending
// it as Retry-After: 1 would tell the client the opposite.
func TestDoNotRetrySendsNoRetryAfter(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", slowDown{-time.Second})
	if p := paved.ProblemOf(err); p.RetryAfter != 0 {
		t.Errorf("ProblemOf(err).RetryAfter = %v, want 0", p.RetryAfter)
	}
	w := httptest.NewRecorder()
	paved.WriteError(w, httptest.NewRequest("GET", "/", nil), err)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "" {
		t.Fatalf("WriteError sent %d with Retry-After %q, want 429 without it", w.Code, w.Header().Get("Retry-After"))
	}
}
