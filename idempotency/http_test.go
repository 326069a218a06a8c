package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/idempotency"
)

// launch is the guarded handler of the tests: it counts its runs and
// answers with the status in the request's "status" query parameter
// (201 by default) and a body naming the run.
type launch struct {
	runs atomic.Int64
}

func (l *launch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := l.runs.Add(1)
	body, _ := io.ReadAll(r.Body)
	status := http.StatusCreated
	if s := r.URL.Query().Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/instances/"+strconv.FormatInt(n, 10))
	w.Header().Set("Set-Cookie", "session=secret")
	w.Header().Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT")
	if big := r.URL.Query().Get("big"); big != "" {
		w.WriteHeader(status)
		size, _ := strconv.Atoi(big)
		_, _ = w.Write([]byte(strings.Repeat("x", size)))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"run":` + strconv.FormatInt(n, 10) + `,"body":` + strconv.Quote(string(body)) + `}`))
}

// req describes one request of a case.
type req struct {
	method, target, body string
	key                  []string // Idempotency-Key field lines
	remote, principal    string
	// want
	status   int
	replayed bool
	run      int64 // the run whose response is seen (0: not checked)
	problem  string
}

func (q req) do(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	target := q.target
	if target == "" {
		target = "/instances"
	}
	r := httptest.NewRequest(method, target, strings.NewReader(q.body))
	for _, k := range q.key {
		r.Header.Add("Idempotency-Key", k)
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	if q.principal != "" {
		r = r.WithContext(authz.WithPrincipal(r.Context(), &authz.Principal{ID: q.principal}))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func (q req) check(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != q.status {
		t.Fatalf("status %d, want %d; body %s", w.Code, q.status, w.Body)
	}
	if got := w.Header().Get("Idempotent-Replayed") == "true"; got != q.replayed {
		t.Fatalf("replayed %v, want %v", got, q.replayed)
	}
	if q.run != 0 {
		var b struct{ Run int64 }
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Run != q.run {
			t.Fatalf("body %s, want run %d", w.Body, q.run)
		}
		if want := "/instances/" + strconv.FormatInt(q.run, 10); w.Header().Get("Location") != want {
			t.Fatalf("Location %q, want %q", w.Header().Get("Location"), want)
		}
	}
	if q.problem != "" {
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type %q, want a problem", ct)
		}
		if !strings.Contains(w.Body.String(), q.problem) {
			t.Fatalf("problem %s does not contain %q", w.Body, q.problem)
		}
	}
}

// mux mounts the guarded handler on POST /instances and PATCH
// /instances/{id}, as a service would.
func mux(g *idempotency.Guard, h http.Handler) http.Handler {
	m := http.NewServeMux()
	m.Handle("POST /instances", g.Middleware(h))
	m.Handle("PATCH /instances/{id}", g.Middleware(h))
	m.Handle("POST /other", g.Middleware(h))
	return m
}

func TestMiddleware(t *testing.T) {
	k1, k2 := []string{`"k1"`}, []string{`"k2"`}
	for _, tc := range []struct {
		name     string
		opts     []idempotency.Option
		reqs     []req
		wantRuns int64
	}{
		{name: "2.6 first request executes", wantRuns: 1, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
		}},
		{name: "2.6 retry with same key and payload replays", wantRuns: 1, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
			{key: k1, body: "a", status: 201, run: 1, replayed: true},
			{key: k1, body: "a", status: 201, run: 1, replayed: true},
		}},
		{name: "2.6 another key executes again", wantRuns: 2, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
			{key: k2, body: "a", status: 201, run: 2},
		}},
		{name: "2.7 same key with another payload is 422", wantRuns: 1, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
			{key: k1, body: "b", status: 422, problem: "key already used for another request"},
			{key: k1, body: "a", status: 201, run: 1, replayed: true},
		}},
		{name: "2.7 missing key on a route requiring one is 400 with a link to the docs", wantRuns: 0,
			opts: []idempotency.Option{idempotency.WithRequired(true), idempotency.WithDocsURL("https://docs.example.com/idempotency")},
			reqs: []req{{body: "a", status: 400, problem: `"type":"https://docs.example.com/idempotency","title":"Idempotency-Key is missing"`}}},
		{name: "2.7 missing key without WithRequired passes through", wantRuns: 2, reqs: []req{
			{body: "a", status: 201, run: 1},
			{body: "a", status: 201, run: 2},
		}},
		{name: "2.1 malformed key is 400", wantRuns: 0, reqs: []req{
			{key: []string{`"unterminated`}, status: 400, problem: "malformed key"},
		}},
		{name: "2.1 two key fields are 400", wantRuns: 0, reqs: []req{
			{key: []string{`"a"`, `"b"`}, status: 400, problem: "malformed key"},
		}},
		{name: "2.1 bare key is the quoted key", wantRuns: 1, reqs: []req{
			{key: []string{`k1`}, body: "a", status: 201, run: 1},
			{key: k1, body: "a", status: 201, run: 1, replayed: true},
		}},
		{name: "2.1 parameters do not change the key", wantRuns: 1, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
			{key: []string{`"k1";v=2`}, body: "a", status: 201, run: 1, replayed: true},
		}},
		{name: "2.2 keys are scoped by client address", wantRuns: 2, reqs: []req{
			{key: k1, body: "a", remote: "192.0.2.1:1000", status: 201, run: 1},
			{key: k1, body: "a", remote: "192.0.2.1:2000", status: 201, run: 1, replayed: true},
			{key: k1, body: "a", remote: "192.0.2.2:1000", status: 201, run: 2},
		}},
		{name: "2.2 keys are scoped by principal", wantRuns: 2, reqs: []req{
			{key: k1, body: "a", principal: "alice", remote: "192.0.2.1:1", status: 201, run: 1},
			{key: k1, body: "a", principal: "alice", remote: "192.0.2.9:1", status: 201, run: 1, replayed: true},
			{key: k1, body: "a", principal: "bob", remote: "192.0.2.1:1", status: 201, run: 2},
		}},
		{name: "2.2 keys are scoped by route", wantRuns: 3, reqs: []req{
			{key: k1, body: "a", status: 201, run: 1},
			{key: k1, body: "a", target: "/other", status: 201, run: 2},
			{key: k1, body: "a", method: "PATCH", target: "/instances/7", status: 201, run: 3},
			{key: k1, body: "a", method: "PATCH", target: "/instances/7", status: 201, run: 3, replayed: true},
		}},
		{name: "custom scope", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithScope(func(*http.Request) string { return "everyone" })},
			reqs: []req{
				{key: k1, body: "a", remote: "192.0.2.1:1", status: 201, run: 1},
				{key: k1, body: "a", remote: "192.0.2.2:1", status: 201, run: 1, replayed: true},
			}},
		{name: "5xx releases the key", wantRuns: 2, reqs: []req{
			{key: k1, target: "/instances?status=503", status: 503, run: 1},
			{key: k1, target: "/instances?status=503", status: 503, run: 2},
		}},
		{name: "5xx stored when WithStoreStatus says so", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithStoreStatus(func(int) bool { return true })},
			reqs: []req{
				{key: k1, target: "/instances?status=500", status: 500, run: 1},
				{key: k1, target: "/instances?status=500", status: 500, run: 1, replayed: true},
			}},
		{name: "final 4xx stored", wantRuns: 1, reqs: []req{
			{key: k1, target: "/instances?status=400", status: 400, run: 1},
			{key: k1, target: "/instances?status=400", status: 400, run: 1, replayed: true},
		}},
		{name: "429 releases the key", wantRuns: 2, reqs: []req{
			{key: k1, target: "/instances?status=429", status: 429, run: 1},
			{key: k1, target: "/instances?status=429", status: 429, run: 2},
		}},
		{name: "409 releases the key", wantRuns: 2, reqs: []req{
			{key: k1, target: "/instances?status=409", status: 409, run: 1},
			{key: k1, target: "/instances?status=409", status: 409, run: 2},
		}},
		{name: "body over WithMaxBody is 413", wantRuns: 0,
			opts: []idempotency.Option{idempotency.WithMaxBody(4)},
			reqs: []req{{key: k1, body: "abcde", status: 413}}},
		{name: "body at WithMaxBody runs", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithMaxBody(4)},
			reqs: []req{{key: k1, body: "abcd", status: 201, run: 1}}},
		{name: "response over WithMaxResponse sent once, then 409", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithMaxResponse(10)},
			reqs: []req{
				{key: k1, target: "/instances?big=11", status: 201},
				{key: k1, target: "/instances?big=11", status: 409, problem: "its response was not stored"},
			}},
		{name: "fingerprint fields: another field changed replays", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithFingerprintFields("amount", "customer.id")},
			reqs: []req{
				{key: k1, body: `{"amount":10,"customer":{"id":"c1","name":"A"},"at":1}`, status: 201, run: 1},
				{key: k1, body: `{"at":2,"customer":{"name":"B","id":"c1"},"amount":10}`, status: 201, run: 1, replayed: true},
			}},
		{name: "fingerprint fields: a named field changed is 422", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithFingerprintFields("amount", "customer.id")},
			reqs: []req{
				{key: k1, body: `{"amount":10,"customer":{"id":"c1"}}`, status: 201, run: 1},
				{key: k1, body: `{"amount":10,"customer":{"id":"c2"}}`, status: 422},
				{key: k1, body: `{"amount":10.0,"customer":{"id":"c1"}}`, status: 422},
			}},
		{name: "fingerprint fields: body not JSON is 400", wantRuns: 0,
			opts: []idempotency.Option{idempotency.WithFingerprintFields("amount")},
			reqs: []req{{key: k1, body: `amount=10`, status: 400, problem: "cannot fingerprint"}}},
		{name: "custom fingerprint ignores the body", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithFingerprint(func(*http.Request, []byte) (string, error) { return "same", nil })},
			reqs: []req{
				{key: k1, body: "a", status: 201, run: 1},
				{key: k1, body: "b", status: 201, run: 1, replayed: true},
			}},
		{name: "custom key function", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithKeyFunc(func(r *http.Request) (string, error) { return r.URL.Query().Get("key"), nil })},
			reqs: []req{
				{target: "/instances?key=x", body: "a", status: 201, run: 1},
				{target: "/instances?key=x", body: "a", status: 201, run: 1, replayed: true},
			}},
		{name: "filter skips the guard", wantRuns: 2,
			opts: []idempotency.Option{idempotency.WithFilter(func(*http.Request) bool { return false })},
			reqs: []req{
				{key: k1, body: "a", status: 201, run: 1},
				{key: k1, body: "a", status: 201, run: 2},
			}},
		{name: "custom replay header", wantRuns: 1,
			opts: []idempotency.Option{idempotency.WithReplayHeader("")},
			reqs: []req{
				{key: k1, body: "a", status: 201, run: 1},
				{key: k1, body: "a", status: 201, run: 1},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := idempotency.New("test", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var l launch
			h := mux(g, &l)
			for i, q := range tc.reqs {
				t.Logf("request %d", i+1)
				q.check(t, q.do(t, h))
			}
			if n := l.runs.Load(); n != tc.wantRuns {
				t.Fatalf("handler ran %d times, want %d", n, tc.wantRuns)
			}
		})
	}
}

func TestReplayHeaders(t *testing.T) {
	g, _ := idempotency.New("test")
	h := mux(g, &launch{})
	first := req{key: []string{`"k"`}, body: "a"}.do(t, h)
	replay := req{key: []string{`"k"`}, body: "a"}.do(t, h)
	if first.Body.String() != replay.Body.String() || replay.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("replay %q %v, want %q", replay.Body, replay.Header(), first.Body)
	}
	for _, name := range []string{"Set-Cookie", "Date"} {
		if v := replay.Header().Get(name); v != "" {
			t.Errorf("replay carries %s: %q", name, v)
		}
	}

	g, _ = idempotency.New("test", idempotency.WithStoredHeaders("Location"))
	h = mux(g, &launch{})
	req{key: []string{`"k"`}, body: "a"}.do(t, h)
	replay = req{key: []string{`"k"`}, body: "a"}.do(t, h)
	if replay.Header().Get("Location") != "/instances/1" || replay.Header().Get("Content-Type") != "" {
		t.Fatalf("WithStoredHeaders(Location) replayed %v", replay.Header())
	}
}

// A header the response already has when it is replayed (set by
// middleware outside, like a correlation id) is kept, not replaced.
func TestReplayKeepsOuterHeaders(t *testing.T) {
	g, _ := idempotency.New("test")
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", strconv.FormatInt(n.Add(1), 10))
		g.Middleware(&launch{}).ServeHTTP(w, r)
	})
	req{key: []string{`"k"`}}.do(t, h)
	w := req{key: []string{`"k"`}}.do(t, h)
	if w.Header().Get("X-Request-Id") != "2" || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay headers %v, want X-Request-Id 2", w.Header())
	}
}

func TestDefaultsAndNil(t *testing.T) {
	var l launch
	for _, h := range []http.Handler{idempotency.Middleware(&l), (*idempotency.Guard)(nil).Middleware(&l)} {
		// The default Guard is shared by the process: a key of its own.
		k := []string{idempotency.NewKey()}
		req{key: k, status: 201}.check(t, req{key: k}.do(t, h))
		req{key: k, status: 201, replayed: true}.check(t, req{key: k}.do(t, h))
	}
	if n := l.runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []idempotency.Option
		want string
	}{
		{name: "nil option", opts: []idempotency.Option{nil}, want: "option 0 to New is nil"},
		{name: "nil store", opts: []idempotency.Option{idempotency.WithStore(nil)}, want: "WithStore"},
		{name: "bad header", opts: []idempotency.Option{idempotency.WithHeader("a b")}, want: "WithHeader"},
		{name: "relative docs URL", opts: []idempotency.Option{idempotency.WithDocsURL("/docs")}, want: "WithDocsURL"},
		{name: "zero TTL", opts: []idempotency.Option{idempotency.WithTTL(0)}, want: "WithTTL"},
		{name: "lock timeout over TTL", opts: []idempotency.Option{idempotency.WithTTL(1), idempotency.WithLockTimeout(2)}, want: "exceeds WithTTL"},
		{name: "negative wait", opts: []idempotency.Option{idempotency.WithWait(-1)}, want: "WithWait"},
		{name: "no fields", opts: []idempotency.Option{idempotency.WithFingerprintFields()}, want: "WithFingerprintFields"},
		{name: "both fingerprints", opts: []idempotency.Option{idempotency.WithFingerprintFields("a"),
			idempotency.WithFingerprint(func(*http.Request, []byte) (string, error) { return "", nil })}, want: "exclude each other"},
		{name: "zero max body", opts: []idempotency.Option{idempotency.WithMaxBody(0)}, want: "WithMaxBody"},
		{name: "stored Set-Cookie", opts: []idempotency.Option{idempotency.WithStoredHeaders("set-cookie")}, want: "Set-Cookie is never stored"},
		{name: "store option", opts: []idempotency.Option{idempotency.WithMaxBytes(10)}, want: "WithMaxBytes does not apply to New"},
		{name: "nil error handler", opts: []idempotency.Option{idempotency.WithErrorHandler(nil)}, want: "WithErrorHandler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := idempotency.New("x", tc.opts...)
			if err == nil || g != nil || !strings.HasPrefix(err.Error(), "idempotency: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", g, err, tc.want)
			}
		})
	}
	if _, err := idempotency.NewMemoryStore(idempotency.WithTTL(1)); err == nil || !strings.Contains(err.Error(), "WithTTL does not apply to NewMemoryStore") {
		t.Fatalf("NewMemoryStore(WithTTL) = %v", err)
	}
}

func TestErrorHandler(t *testing.T) {
	var got error
	g, _ := idempotency.New("test", idempotency.WithRequired(true), idempotency.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	w := req{}.do(t, mux(g, &launch{}))
	if w.Code != http.StatusTeapot || !errors.Is(got, idempotency.ErrKeyMissing) {
		t.Fatalf("status %d, error %v", w.Code, got)
	}
}

// A handler whose client went away before it finished released the key:
// its work may be incomplete, and the retry runs again.
func TestClientGoneReleases(t *testing.T) {
	g, _ := idempotency.New("test")
	var runs atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			cancel() // the client hangs up while the handler runs
		}
		w.WriteHeader(http.StatusCreated)
	}))
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	r.Header.Set("Idempotency-Key", `"k"`)
	h.ServeHTTP(httptest.NewRecorder(), r)
	w := req{key: []string{`"k"`}, target: "/"}.do(t, h)
	if runs.Load() != 2 || w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("runs %d, retry status %d; want the retry to run", runs.Load(), w.Code)
	}
}

// A request whose client is gone before the key is claimed runs nothing
// and is not a store failure.
func TestClientGoneBeforeClaim(t *testing.T) {
	var logs bytes.Buffer
	g, _ := idempotency.New("test", idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var runs atomic.Int64
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1) }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	r.Header.Set("Idempotency-Key", `"k"`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if runs.Load() != 0 || w.Code == http.StatusServiceUnavailable || strings.Contains(logs.String(), "store failed") {
		t.Fatalf("runs %d, status %d, logs %q; want nothing run and no store failure", runs.Load(), w.Code, logs.String())
	}
}

func TestPanicReleases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
	}{
		{name: "panic", value: "boom"},
		{name: "http.ErrAbortHandler", value: http.ErrAbortHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := idempotency.New("test")
			var runs atomic.Int64
			h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if runs.Add(1) == 1 {
					panic(tc.value)
				}
				w.WriteHeader(http.StatusCreated)
			}))
			func() {
				defer func() {
					if v := recover(); v != tc.value {
						t.Fatalf("recovered %v, want the handler's panic %v", v, tc.value)
					}
				}()
				req{key: []string{`"k"`}, target: "/"}.do(t, h)
			}()
			req{key: []string{`"k"`}, target: "/", status: 201}.check(t, req{key: []string{`"k"`}, target: "/"}.do(t, h))
			if runs.Load() != 2 {
				t.Fatalf("%d runs, want 2", runs.Load())
			}
		})
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// WithFingerprintFields needs a JSON object: the 400 says what was wrong.
func TestFingerprintFieldsBadBody(t *testing.T) {
	g, _ := idempotency.New("test", idempotency.WithFingerprintFields("amount"))
	var got error
	g2, _ := idempotency.New("test2", idempotency.WithFingerprintFields("amount"),
		idempotency.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(400) }))
	for _, tc := range []struct{ name, body, want string }{
		{"empty body", "", "empty body"},
		{"not an object", "[1,2]", "not a JSON object"},
		{"not JSON", "amount=5", "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, h := range []http.Handler{g.Middleware(&launch{}), g2.Middleware(&launch{})} {
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
				r.Header.Set("Idempotency-Key", `"k"`)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", w.Code)
				}
				if b := w.Body.String(); h != nil && b != "" && !strings.Contains(b, tc.want) {
					t.Fatalf("body %s, want the reason %q", b, tc.want)
				}
			}
			if !errors.Is(got, idempotency.ErrFingerprint) {
				t.Fatalf("error %v, want ErrFingerprint", got)
			}
		})
	}
}
