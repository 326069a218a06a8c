package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paved-go/paved/internal/httpx"
)

type problemBody struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail"`
	Instance      string `json:"instance"`
	CorrelationID string `json:"correlation_id"`
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problemBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
	}
	return p
}

func TestWriteProblem(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Length", "999")
	w.Header().Set("Allow", "GET")
	httpx.WriteProblem(w, httpx.Problem{
		Status:        http.StatusMethodNotAllowed,
		Detail:        `method "PUT" <not> allowed`,
		Instance:      "/instances",
		CorrelationID: "abc",
	})
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d", w.Code)
	}
	if w.Header().Get("Allow") != "GET" {
		t.Error("a header set before WriteProblem was dropped")
	}
	if w.Header().Get("Content-Length") != "" {
		t.Error("a stale Content-Length survived")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
	}
	got := decodeProblem(t, w)
	want := problemBody{
		Type: "about:blank", Title: "Method Not Allowed", Status: 405,
		Detail: `method "PUT" <not> allowed`, Instance: "/instances", CorrelationID: "abc",
	}
	if got != want {
		t.Fatalf("problem = %+v, want %+v", got, want)
	}
}

func TestWriteProblemOmitsEmptyMembers(t *testing.T) {
	w := httptest.NewRecorder()
	httpx.WriteProblem(w, httpx.Problem{Type: "https://example.com/p/out-of-credit", Title: "Out of credit", Status: 403})
	want := `{"type":"https://example.com/p/out-of-credit","title":"Out of credit","status":403}`
	if w.Body.String() != want {
		t.Fatalf("body = %s, want %s", w.Body.String(), want)
	}
}

type retryErr struct{ d time.Duration }

func (e retryErr) Error() string             { return "test: slow down" }
func (e retryErr) HTTPStatus() int           { return http.StatusTooManyRequests }
func (e retryErr) RetryDelay() time.Duration { return e.d }

var errDenied = httpx.NewError(http.StatusForbidden, "test: denied")

func TestWriteError(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantDetail     string
		wantRetryAfter string
	}{
		{"sentinel", errDenied, 403, "test: denied", ""},
		{"wrapped sentinel", fmt.Errorf("loading: %w", errDenied), 403, "test: denied", ""},
		{"retry delay rounds up", retryErr{1500 * time.Millisecond}, 429, "test: slow down", "2"},
		{"retry delay at least 1s", retryErr{10 * time.Millisecond}, 429, "test: slow down", "1"},
		{"deadline", fmt.Errorf("upstream: %w", context.DeadlineExceeded), 504, "context deadline exceeded", ""},
		{"body too large", &http.MaxBytesError{Limit: 10}, 413, "http: request body too large", ""},
		{"foreign error hides its message", errors.New("db password=hunter2 rejected"), 500, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(httpx.WithCorrelationID(r.Context(), "req-1"))
			httpx.WriteError(w, r, tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
			p := decodeProblem(t, w)
			if p.Detail != tc.wantDetail || p.Status != tc.wantStatus || p.CorrelationID != "req-1" {
				t.Errorf("problem = %+v", p)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 200},
		{"own status", errDenied, 403},
		{"typed error refines sentinel", fmt.Errorf("%w", retryErr{}), 429},
		{"deadline", context.DeadlineExceeded, 504},
		{"canceled", context.Canceled, httpx.StatusClientClosedRequest},
		{"max bytes", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), 413},
		{"foreign", errors.New("boom"), 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := httpx.StatusOf(tc.err); got != tc.want {
				t.Fatalf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestCorrelationID(t *testing.T) {
	ctx := context.Background()
	if id := httpx.CorrelationID(ctx); id != "" {
		t.Fatalf("empty context has id %q", id)
	}
	type other struct{}
	ctx = context.WithValue(httpx.WithCorrelationID(ctx, "a"), other{}, 1)
	if httpx.CorrelationID(ctx) != "a" || ctx.Value(other{}) != 1 {
		t.Fatal("id or other value lost")
	}
	if httpx.CorrelationID(httpx.WithCorrelationID(ctx, "b")) != "b" {
		t.Fatal("inner id does not win")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "1", 0: "1", time.Second: "1", time.Second + 1: "2",
		30 * time.Second: "30", 1<<63 - 1: "2147483647",
	} {
		if got := httpx.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}

// FuzzProblemJSON checks that any detail round-trips through the
// hand-written encoder as valid JSON with the same text (invalid UTF-8
// replaced, as encoding/json does).
func FuzzProblemJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te\`, "ctl\x00\x1f\n\t", "<>&", "\u2028\u2029", "bad\xffutf8", "ünïcødé 🚀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := httpx.Problem{Status: 400, Detail: s, CorrelationID: s}.AppendJSON(nil)
		var p problemBody
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // same replacement as encoding/json
		}
		if p.Detail != want || p.CorrelationID != want {
			t.Fatalf("detail %q round-tripped to %q", s, p.Detail)
		}
		std, _ := json.Marshal(s)
		var fromStd string
		json.Unmarshal(std, &fromStd)
		if fromStd != p.Detail {
			t.Fatalf("differs from encoding/json: %q vs %q", p.Detail, fromStd)
		}
	})
}

// TestWriteErrorDetailNeverCarriesWrappingText checks that only the
// message of the error that makes err public reaches the client, not the
// text foreign code wrapped around it: an *url.Error names the upstream's
// URL, query secrets included; a joined transport error names addresses.
func TestWriteErrorDetailNeverCarriesWrappingText(t *testing.T) {
	const secret = "token=s3cret"
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"url error wrapping a deadline", &url.Error{Op: "Get", URL: "http://10.0.0.7:8081/internal?" + secret, Err: context.DeadlineExceeded}, 504, "context deadline exceeded"},
		{"canceled under a driver error", fmt.Errorf("pq: query SELECT * FROM users WHERE %s: %w", secret, context.Canceled), httpx.StatusClientClosedRequest, "context canceled"},
		{"project error beside a transport error", errors.Join(errors.New("dial tcp 10.0.0.7:5432 "+secret), errDenied), 403, "test: denied"},
		{"project error wrapped by foreign text", fmt.Errorf("GET /internal?%s: %w", secret, retryErr{time.Second}), 429, "test: slow down"},
		{"body too large under a decoder error", fmt.Errorf("decoding %s: %w", secret, &http.MaxBytesError{Limit: 10}), 413, "http: request body too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpx.WriteError(w, httptest.NewRequest("GET", "/", nil), tc.err)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Fatalf("body echoes the wrapping text: %s", w.Body.String())
			}
			if p := decodeProblem(t, w); p.Detail != tc.wantDetail {
				t.Errorf("detail %q, want %q", p.Detail, tc.wantDetail)
			}
		})
	}
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d     time.Duration
		least int64
		want  int64
	}{
		{0, 0, 0},
		{0, 1, 1},
		{time.Nanosecond, 0, 1},
		{time.Second, 0, 1},
		{1500 * time.Millisecond, 0, 2},
		{-time.Second, 0, 0},
		{1<<63 - 1, 0, 2147483647},
	}
	for _, tc := range tests {
		if got := httpx.CeilSeconds(tc.d, tc.least); got != tc.want {
			t.Errorf("CeilSeconds(%v, %d) = %d, want %d", tc.d, tc.least, got, tc.want)
		}
	}
}

// TestWriteProblemStatusAndExtensions checks what core packages rely on:
// a problem never goes out as anything but a 4xx or 5xx, its status
// member agrees with the response, and unusable extension members are
// left out rather than breaking the object.
func TestWriteProblemStatusAndExtensions(t *testing.T) {
	tests := []struct {
		name     string
		p        httpx.Problem
		wantCode int
		wantBody string
	}{
		{"success status becomes 500", httpx.Problem{Status: 200}, 500, `{"type":"about:blank","title":"Internal Server Error","status":500}`},
		{"499 has a title", httpx.Problem{Status: httpx.StatusClientClosedRequest}, 499, `{"type":"about:blank","title":"Client Closed Request","status":499}`},
		{"extensions in order, bad ones left out", httpx.Problem{Status: 429, Extensions: []httpx.Extension{
			{Name: "quota", Value: "launch"}, {Name: "status", Value: 200}, {Name: "x", Value: 1}, {Name: "nan", Value: math.NaN()}, {Name: "limit", Value: 2},
		}}, 429, `{"type":"about:blank","title":"Too Many Requests","status":429,"quota":"launch","limit":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpx.WriteProblem(w, tc.p)
			if w.Code != tc.wantCode || w.Body.String() != tc.wantBody {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tc.wantCode, tc.wantBody)
			}
		})
	}
	t.Run("nothing after the header is out", func(t *testing.T) {
		w := httptest.NewRecorder()
		rw := httpx.Wrap(w)
		rw.WriteHeader(http.StatusOK)
		httpx.WriteProblem(rw, httpx.Problem{Status: 503})
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("got %d %q", w.Code, w.Body)
		}
	})
}
