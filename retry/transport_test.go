package retry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/retry"
)

// roundTripFunc serves requests in memory, so synctest's fake clock can
// drive the waits (real sockets would block the bubble).
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// script answers the i-th request with statuses[i] (the last one repeats)
// and records what each request carried.
type script struct {
	mu         sync.Mutex
	statuses   []int
	headers    []http.Header
	bodies     []string
	closed     atomic.Int32 // response bodies closed
	retryAfter string
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	i := len(s.headers)
	s.headers = append(s.headers, r.Header.Clone())
	var body string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		body = string(b)
	}
	s.bodies = append(s.bodies, body)
	status := s.statuses[min(i, len(s.statuses)-1)]
	s.mu.Unlock()
	resp := &http.Response{StatusCode: status, Header: make(http.Header), Request: r,
		Body: &trackedBody{Reader: strings.NewReader("answer"), closed: &s.closed}}
	if status != 200 && s.retryAfter != "" {
		resp.Header.Set("Retry-After", s.retryAfter)
	}
	return resp, nil
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.headers)
}

type trackedBody struct {
	io.Reader
	closed *atomic.Int32
}

func (b *trackedBody) Close() error { b.closed.Add(1); return nil }

func TestTransportWhatIsRetried(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		header     map[string]string
		statuses   []int
		retryAfter string
		opts       []retry.Option
		wantTries  int
		wantStatus int
	}{
		{name: "GET 503 then 200", method: "GET", statuses: []int{503, 200}, wantTries: 2, wantStatus: 200},
		{name: "GET 502 504 200", method: "GET", statuses: []int{502, 504, 200}, wantTries: 3, wantStatus: 200},
		{name: "GET gives the last 503 back", method: "GET", statuses: []int{503}, wantTries: 3, wantStatus: 503},
		{name: "GET 404 not retried", method: "GET", statuses: []int{404}, wantTries: 1, wantStatus: 404},
		{name: "GET 500 not retried", method: "GET", statuses: []int{500, 200}, wantTries: 1, wantStatus: 500},
		{name: "429 without Retry-After not retried", method: "GET", statuses: []int{429, 200}, wantTries: 1, wantStatus: 429},
		{name: "429 with Retry-After retried", method: "GET", statuses: []int{429, 200}, retryAfter: "1", wantTries: 2, wantStatus: 200},
		{name: "429 with a malformed Retry-After not retried", method: "GET", statuses: []int{429, 200}, retryAfter: "soon", wantTries: 1, wantStatus: 429},
		{name: "Retry-After beyond the cap gives up", method: "GET", statuses: []int{503, 200}, retryAfter: "3600", wantTries: 1, wantStatus: 503},
		{name: "PUT retried", method: "PUT", statuses: []int{503, 200}, wantTries: 2, wantStatus: 200},
		{name: "DELETE retried", method: "DELETE", statuses: []int{503, 200}, wantTries: 2, wantStatus: 200},
		{name: "POST not retried", method: "POST", statuses: []int{503, 200}, wantTries: 1, wantStatus: 503},
		{name: "PATCH not retried", method: "PATCH", statuses: []int{503, 200}, wantTries: 1, wantStatus: 503},
		{name: "POST with Idempotency-Key retried", method: "POST", header: map[string]string{"Idempotency-Key": "k1"}, statuses: []int{503, 200}, wantTries: 2, wantStatus: 200},
		{name: "POST with generated key retried", method: "POST", opts: []retry.Option{retry.WithIdempotencyKey()}, statuses: []int{503, 200}, wantTries: 2, wantStatus: 200},
		{name: "POST with an empty Idempotency-Key not retried", method: "POST", header: map[string]string{"Idempotency-Key": ""}, statuses: []int{503, 200}, wantTries: 1, wantStatus: 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &script{statuses: tc.statuses, retryAfter: tc.retryAfter}
				r := mustNew(t, append([]retry.Option{retry.WithBackoff(retry.Constant(10 * time.Millisecond))}, tc.opts...)...)
				client := &http.Client{Transport: r.Transport(s)}
				req, _ := http.NewRequest(tc.method, "http://upstream.test/x", strings.NewReader(`{"a":1}`))
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus || string(body) != "answer" {
					t.Fatalf("status %d body %q, want %d", resp.StatusCode, body, tc.wantStatus)
				}
				if got := s.count(); got != tc.wantTries {
					t.Fatalf("%d tries, want %d", got, tc.wantTries)
				}
				for i, b := range s.bodies {
					if b != `{"a":1}` {
						t.Fatalf("attempt %d sent body %q", i+1, b)
					}
				}
				if n := int(s.closed.Load()); n != tc.wantTries {
					t.Fatalf("%d of %d response bodies closed", n, tc.wantTries)
				}
				keys := map[string]bool{}
				for _, h := range s.headers {
					keys[h.Get("Idempotency-Key")] = true
				}
				if len(keys) != 1 {
					t.Fatalf("attempts carried different Idempotency-Keys: %v", keys)
				}
				// Section 2.1 of the Idempotency-Key draft: the value is an
				// sf-string, a quoted string.
				if k := s.headers[0].Get("Idempotency-Key"); len(tc.opts) > 0 && !generatedKey.MatchString(k) {
					t.Fatalf("generated Idempotency-Key %q, want a quoted UUID (an sf-string)", k)
				}
				if req.Header.Get("Idempotency-Key") != tc.header["Idempotency-Key"] {
					t.Fatal("the caller's request was modified")
				}
			})
		})
	}
}

var generatedKey = regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$`)

func TestTransportRetryAfterWait(t *testing.T) {
	for _, ra := range []string{"2", time.Date(2000, 1, 1, 0, 0, 2, 0, time.UTC).Format(http.TimeFormat)} {
		t.Run(ra, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// synctest's clock starts at 2000-01-01 00:00:00 UTC.
				s := &script{statuses: []int{503, 200}, retryAfter: ra}
				r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)))
				start := time.Now()
				resp, err := r.Transport(s).RoundTrip(httptest.NewRequest("GET", "http://upstream.test/", nil))
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
				resp.Body.Close()
				if waited := time.Since(start); waited != 2*time.Second {
					t.Fatalf("waited %v, want the 2s Retry-After", waited)
				}
			})
		})
	}
}

func TestTransportAttemptHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{statuses: []int{503, 503, 200}}
		r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)), retry.WithAttemptHeader("Retry-Attempt"))
		resp, err := r.Transport(s).RoundTrip(httptest.NewRequest("GET", "http://upstream.test/", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for i, h := range s.headers {
			if got := h.Get("Retry-Attempt"); got != string(rune('1'+i)) {
				t.Fatalf("attempt %d sent Retry-Attempt %q", i+1, got)
			}
		}
	})
}

func TestTransportUnreplayableBody(t *testing.T) {
	s := &script{statuses: []int{503, 200}}
	r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)))
	req, _ := http.NewRequest("PUT", "http://upstream.test/", io.NopCloser(strings.NewReader("once"))) // no GetBody
	resp, err := r.Transport(s).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || s.count() != 1 {
		t.Fatalf("status %d after %d tries; a body that cannot be replayed must not be retried", resp.StatusCode, s.count())
	}
}

// TestTransportRealServer checks against a real server that bodies are
// replayed byte for byte and that retried connections are reused.
func TestTransportRealServer(t *testing.T) {
	var newConns atomic.Int32
	var calls atomic.Int32
	body := bytes.Repeat([]byte("0123456789"), 10000)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if !bytes.Equal(got, body) {
			http.Error(w, "body differs", http.StatusBadRequest)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(bytes.Repeat([]byte("x"), 4096)) // a body to drain
			return
		}
		io.WriteString(w, "done")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	r := mustNew(t, retry.WithBackoff(retry.Constant(time.Millisecond)))
	client := &http.Client{Transport: r.Transport(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("PUT", srv.URL, bytes.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "done" || calls.Load() != 3 {
		t.Fatalf("status %d %q after %d calls", resp.StatusCode, got, calls.Load())
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 attempts, want 1 reused", n)
	}
}

// TestTransportAttemptTimeoutWithoutRetries: a request that is not
// retried is still one attempt under WithAttemptTimeout, and its context
// lives on until its body is closed.
func TestTransportAttemptTimeoutWithoutRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				<-r.Context().Done() // the upstream hangs
				return nil, r.Context().Err()
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &ctxBody{ctx: r.Context(), Reader: strings.NewReader("created")}}, nil
		})
		r := mustNew(t, retry.WithAttemptTimeout(time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		client := &http.Client{Transport: r.Transport(base)}
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://upstream.test/", strings.NewReader("{}"))
		if _, err := client.Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("err %v after %v, want the 1s attempt timeout", err, time.Since(start))
		}
		req, _ = http.NewRequestWithContext(ctx, "POST", "http://upstream.test/", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "created" || err != nil {
			t.Fatalf("body %q, %v: the attempt's context ended before the body was read", body, err)
		}
	})
}

// ctxBody fails reads once ctx is done, as a real response body does.
type ctxBody struct {
	ctx context.Context
	io.Reader
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.Reader.Read(p)
}

func (b *ctxBody) Close() error { return nil }

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"Mon, 23 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Monday, 23-Nov-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Mon Nov 23 12:00:05 2026", 5 * time.Second, true},   // asctime
		{"Sun, 22 Nov 2026 12:00:00 GMT", 0, true},            // past: now
		{"99999999999999999999999", 1 << 33 * time.Second, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", 1 << 33 * time.Second, true}, // saturates as seconds do
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{" 5", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		got, ok := retry.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Mon, 23 Nov 2026 12:00:30 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "", "-1", "99999999999999999999", "soon", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retry.ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("%q gave a negative delay %v", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: not ok but delay %v", s, d)
		}
		if ok && d > 1<<33*time.Second {
			t.Fatalf("%q: delay %v out of range", s, d)
		}
	})
}

// TestCheckResponse: failing answers become a *StatusError whose status
// is what a server relaying the failure should answer, with the
// upstream's Retry-After; their bodies are drained and closed; other
// answers and errors pass through.
func TestCheckResponse(t *testing.T) {
	errDial := errors.New("dial failed")
	tests := []struct {
		name       string
		status     int
		retryAfter string
		err        error
		wantPass   bool // resp and err come back unchanged
		wantHTTP   int  // the error's HTTP status
		wantDelay  time.Duration
		wantHinted bool
	}{
		{name: "200 passes", status: 200, wantPass: true},
		{name: "404 passes", status: 404, wantPass: true},
		{name: "transport error passes", err: errDial, wantPass: true},
		{name: "500 is a bad gateway", status: 500, wantHTTP: 502},
		{name: "502 is a bad gateway", status: 502, wantHTTP: 502},
		{name: "503 with Retry-After", status: 503, retryAfter: "7", wantHTTP: 503, wantDelay: 7 * time.Second, wantHinted: true},
		{name: "503 with a malformed Retry-After", status: 503, retryAfter: "soon", wantHTTP: 503},
		{name: "504 is a gateway timeout", status: 504, wantHTTP: 504},
		{name: "429 is unavailable, not our caller's limit", status: 429, retryAfter: "2", wantHTTP: 503, wantDelay: 2 * time.Second, wantHinted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var closed atomic.Bool
			var resp *http.Response
			if tc.err == nil {
				resp = &http.Response{StatusCode: tc.status, Header: http.Header{},
					Body: &closeFlag{Reader: strings.NewReader("body"), closed: &closed}}
				if tc.retryAfter != "" {
					resp.Header.Set("Retry-After", tc.retryAfter)
				}
			}
			got, err := retry.CheckResponse(resp, tc.err)
			if tc.wantPass {
				if got != resp || err != tc.err || closed.Load() {
					t.Fatalf("got %v, %v (closed %v); want the input unchanged", got, err, closed.Load())
				}
				return
			}
			var se *retry.StatusError
			if got != nil || !errors.As(err, &se) || se.StatusCode != tc.status || se.RetryAfter != tc.wantDelay || !closed.Load() {
				t.Fatalf("got %v, %#v (closed %v)", got, err, closed.Load())
			}
			rec := httptest.NewRecorder()
			httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), err)
			wantRA := ""
			if tc.wantHinted {
				wantRA = httpx.RetryAfterSeconds(tc.wantDelay)
			}
			if rec.Code != tc.wantHTTP || rec.Header().Get("Retry-After") != wantRA {
				t.Fatalf("answered %d, Retry-After %q; want %d, %q", rec.Code, rec.Header().Get("Retry-After"), tc.wantHTTP, wantRA)
			}
		})
	}
}
