package status_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errBoom = errors.New("boom")
	quiet   = breaker.WithLogger(slog.New(slog.DiscardHandler))
)

func fail(context.Context) error    { return errBoom }
func succeed(context.Context) error { return nil }

func newBreaker(t testing.TB, name string, opts ...breaker.Option) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(name, append([]breaker.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	keep(t, b)
	return b
}

// keep keeps v reachable until the test ends: the registry holds
// components weakly, and one collected mid-test would leave the page.
func keep(t testing.TB, v any) { t.Cleanup(func() { runtime.KeepAlive(v) }) }

func newHandler(t testing.TB, opts ...status.Option) *status.Handler {
	t.Helper()
	h, err := status.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// serve answers one request with h mounted under /admin, as a user mounts
// it on an admin mux.
func serve(h http.Handler, method, target string, body io.Reader, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	http.StripPrefix("/admin", h).ServeHTTP(w, r)
	return w
}

// doc is status.json as a client decodes it.
type doc struct {
	Time         time.Time `json:"time"`
	Registration bool      `json:"registration"`
	Interval     float64   `json:"interval_seconds"`
	Faults       bool      `json:"faults"`
	Components   []row     `json:"components"`
	History      *struct {
		Times  []int64               `json:"times"`
		Series map[string][]*float64 `json:"series"`
	} `json:"history"`
}

type row struct {
	Kind   string         `json:"kind"`
	Name   string         `json:"name"`
	Key    string         `json:"key"`
	State  string         `json:"state"`
	Health string         `json:"health"`
	Value  float64        `json:"value"`
	Unit   string         `json:"unit"`
	Stats  map[string]any `json:"stats"`
}

func getDoc(t *testing.T, h http.Handler, target string) doc {
	t.Helper()
	w := serve(h, "GET", target, nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s: %s", target, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var d doc
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func find(t *testing.T, d doc, name string) row {
	t.Helper()
	for _, c := range d.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component named %q in %+v", name, d.Components)
	return row{}
}

func TestStatusJSONFollowsABreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		h := newHandler(t)
		b := newBreaker(t, "json-upstream", breaker.WithFailureRate(0.5, 2), breaker.WithOpenDuration(20*time.Second))

		_ = b.Do(ctx, succeed)
		d := getDoc(t, h, "/admin/status.json")
		if !d.Time.Equal(time.Now()) || !d.Registration || d.Interval != 1 || d.Faults || d.History != nil {
			t.Fatalf("document = %+v", d)
		}
		c := find(t, d, "json-upstream")
		if c.Kind != "breaker" || c.Key != "" || c.State != "closed" || c.Health != "ok" || c.Value != 0 || c.Unit != "failure rate" {
			t.Fatalf("closed row = %+v", c)
		}
		if c.Stats["calls"] != 1.0 || c.Stats["failures"] != 0.0 {
			t.Fatalf("closed stats = %v", c.Stats)
		}

		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, fail) // 2 of 3: opens
		c = find(t, getDoc(t, h, "/admin/status.json"), "json-upstream")
		if c.State != "open" || c.Health != "bad" || c.Value != 1 || c.Stats["half_open_in_seconds"] != 20.0 {
			t.Fatalf("open row = %+v", c)
		}

		time.Sleep(20 * time.Second)
		c = find(t, getDoc(t, h, "/admin/status.json"), "json-upstream")
		if c.State != "half_open" || c.Health != "warn" || c.Stats["half_open_in_seconds"] != 0.0 {
			t.Fatalf("half-open row = %+v", c)
		}
	})
}

func TestStatusJSONIsOrdered(t *testing.T) {
	newBreaker(t, "order-b")
	newBreaker(t, "order-a")
	r, err := breaker.NewRegistry(quiet, breaker.WithName("order-c"))
	if err != nil {
		t.Fatal(err)
	}
	keep(t, r)
	r.Get("z")
	r.Get("y")
	d := getDoc(t, newHandler(t), "/admin/status.json")
	if !slices.IsSortedFunc(d.Components, func(a, b row) int {
		return strings.Compare(a.Kind+"\x00"+a.Name+"\x00"+a.Key, b.Kind+"\x00"+b.Name+"\x00"+b.Key)
	}) {
		t.Fatalf("components not ordered by kind, name, key: %+v", d.Components)
	}
	var keys []string
	for _, c := range d.Components {
		if c.Name == "order-c" {
			keys = append(keys, c.Key)
		}
	}
	if strings.Join(keys, ",") != ",y,z" {
		t.Fatalf("registry rows keyed %q, want the summary then y, z", keys)
	}
}

type queue struct{ depth int }

func TestRegisterListsAUsersComponent(t *testing.T) {
	q := &queue{depth: 7}
	keep(t, q)
	reg := status.Register("queue", "jobs", q, func(q *queue, dst []status.Component) []status.Component {
		return append(dst, status.Component{Kind: "queue", Name: "jobs", State: "ok", Health: status.HealthOK,
			Value: float64(q.depth), Unit: "jobs", Stats: struct {
				Depth int `json:"depth"`
			}{q.depth}})
	})
	h := newHandler(t)
	c := find(t, getDoc(t, h, "/admin/status.json"), "jobs")
	if c.Kind != "queue" || c.Value != 7 || c.Stats["depth"] != 7.0 {
		t.Fatalf("row = %+v", c)
	}
	if body := serve(h, "GET", "/admin/", nil).Body.String(); !strings.Contains(body, `<td class="stats">depth=7</td>`) {
		t.Fatalf("page has no stats cell for the queue:\n%s", body)
	}
	reg.Remove()
	for _, c := range getDoc(t, h, "/admin/status.json").Components {
		if c.Name == "jobs" {
			t.Fatal("a removed component is still listed")
		}
	}
}

func TestRegistrationOff(t *testing.T) {
	status.SetRegistration(false)
	t.Cleanup(func() { status.SetRegistration(true) })
	newBreaker(t, "off-upstream")
	h := newHandler(t)
	d := getDoc(t, h, "/admin/status.json")
	if d.Registration || len(d.Components) != 0 {
		t.Fatalf("registration off: %+v", d)
	}
	if body := serve(h, "GET", "/admin/", nil).Body.String(); !strings.Contains(body, "registration is off") {
		t.Fatalf("page does not say registration is off:\n%s", body)
	}
	status.SetRegistration(true)
	for _, c := range getDoc(t, h, "/admin/status.json").Components {
		if c.Name == "off-upstream" {
			t.Fatal("a breaker built while registration was off is listed")
		}
	}
}

func TestHistoryIsSampledOnlyWhenRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(t, status.WithHistory(time.Second, 3))
		newBreaker(t, "history-upstream")
		id := "breaker/history-upstream/"

		getDoc(t, h, "/admin/status.json")
		getDoc(t, h, "/admin/status.json") // same instant: one sample
		d := getDoc(t, h, "/admin/status.json?history=1")
		if d.History == nil || len(d.History.Times) != 1 || len(d.History.Series[id]) != 1 {
			t.Fatalf("history after reads at one instant = %+v", d.History)
		}

		time.Sleep(time.Minute) // nobody reads: nothing is sampled
		getDoc(t, h, "/admin/status.json")
		d = getDoc(t, h, "/admin/status.json?history=1")
		if n := len(d.History.Times); n != 2 {
			t.Fatalf("%d samples after a minute unread, want 2", n)
		}
		for range 5 {
			time.Sleep(time.Second)
			getDoc(t, h, "/admin/status.json")
		}
		d = getDoc(t, h, "/admin/status.json?history=1")
		times := d.History.Times
		if len(times) != 3 || times[2] != time.Now().UnixMilli() || times[2]-times[0] != 2000 {
			t.Fatalf("history times = %v, want the last 3 seconds", times)
		}
		for _, v := range d.History.Series[id] {
			if v == nil || *v != 0 {
				t.Fatalf("series = %v, want three zeros", d.History.Series[id])
			}
		}
	})
}

func TestPageHasTheRowsAsATable(t *testing.T) {
	ctx := context.Background()
	b := newBreaker(t, "page-upstream", breaker.WithConsecutiveFailures(1))
	_ = b.Do(ctx, fail)
	newBreaker(t, `page-<script>alert(1)</script>`)
	w := serve(newHandler(t), "GET", "/admin/", nil)
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /admin/: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`<section data-kind="breaker">`,
		`<tr data-id="breaker/page-upstream/" data-name="page-upstream" data-key="" data-state="open" data-health="bad" class="h-bad"><td>page-upstream</td><td></td><td class="state">open</td><td class="value">1 failure rate</td>`,
		`<td>page-&lt;script&gt;alert(1)&lt;/script&gt;</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, `id="faults"`) {
		t.Errorf("page has an unescaped name or a faults panel:\n%s", body)
	}
	if regexp.MustCompile(`(src|href|url)\s*[=(]\s*["']?(https?:)?//|@import`).MatchString(body) {
		t.Error("page refers to an outside resource")
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHandler(t)
	w := serve(h, "GET", "/admin/", nil)
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if regexp.MustCompile(`https?:|\*|unsafe-`).MatchString(csp) {
		t.Errorf("CSP %q allows outside sources or unsafe code", csp)
	}
	// Exactly one inline script and one style, allowed by hash.
	body := w.Body.String()
	if strings.Count(body, "<script>") != 1 || strings.Count(body, "<style>") != 1 ||
		strings.Count(csp, "'sha256-") != 2 {
		t.Errorf("want one inline script and style, each allowed by hash; CSP %q", csp)
	}
	for _, target := range []string{"/admin/", "/admin/status.json", "/admin/nope"} {
		w := serve(h, "GET", target, nil)
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v", target, w.Header())
		}
	}
}

func TestRefusals(t *testing.T) {
	h := newHandler(t) // no WithFaults: the fault control is not mounted
	for _, tc := range []struct {
		name, method, target, ctype string
		want                        int
		allow                       string
	}{
		{"unknown path", "GET", "/admin/nope", "", 404, ""},
		{"faults not mounted: GET", "GET", "/admin/faults", "", 404, ""},
		{"faults not mounted: POST", "POST", "/admin/faults", "application/json", 404, ""},
		{"faults not mounted: DELETE", "DELETE", "/admin/faults", "", 404, ""},
		{"POST status.json", "POST", "/admin/status.json", "application/json", 405, "GET, HEAD"},
		{"DELETE the page", "DELETE", "/admin/", "", 405, "GET, HEAD"},
		{"PUT events", "PUT", "/admin/events", "", 405, "GET, HEAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.method, tc.target, strings.NewReader(`{"rules":[{"name":"drill","percent":50,"status":503}]}`), "Content-Type", tc.ctype)
			if w.Code != tc.want || w.Header().Get("Allow") != tc.allow {
				t.Fatalf("%s %s: %d Allow %q, want %d %q", tc.method, tc.target, w.Code, w.Header().Get("Allow"), tc.want, tc.allow)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want problem+json", ct)
			}
		})
	}
}

func TestMountedWithoutTrailingSlash(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct{ name, target, location string }{
		{"path", "/admin?x=1", "/admin/"},
		{"absolute form stays on this origin", "http://elsewhere.example/admin", "/admin/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, "GET", tc.target, nil)
			if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != tc.location {
				t.Fatalf("GET %s: %d Location %q, want 301 %s", tc.target, w.Code, w.Header().Get("Location"), tc.location)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  status.Option
	}{
		{"nil option", nil},
		{"interval too short", status.WithHistory(time.Millisecond, 10)},
		{"no samples", status.WithHistory(time.Second, 0)},
		{"nil injector", status.WithFaults(nil)},
		{"empty title", status.WithTitle("")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := status.New(tc.opt); err == nil || !strings.HasPrefix(err.Error(), "status: ") {
				t.Fatalf("err = %v, want a status: error", err)
			}
		})
	}
}

// readEvents returns the documents of an event stream, one per event.
func readEvents(t *testing.T, body io.Reader) <-chan doc {
	ch := make(chan doc)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var d doc
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Errorf("event %q: %v", data, err)
				return
			}
			ch <- d
		}
	}()
	return ch
}

func TestEventsDeliverUpdates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := newBreaker(t, "events-upstream", breaker.WithConsecutiveFailures(1))
	h := newHandler(t, status.WithHistory(20*time.Millisecond, 50))
	srv := httptest.NewServer(http.StripPrefix("/admin", h))
	defer srv.Close()

	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/admin/events", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := readEvents(t, res.Body)
	first := <-events
	if first.History == nil || len(first.History.Times) == 0 {
		t.Fatalf("first event has no history: %+v", first)
	}
	if c := find(t, first, "events-upstream"); c.State != "closed" {
		t.Fatalf("first event: %+v", c)
	}

	_ = b.Do(ctx, fail)
	for {
		select {
		case d, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			if d.History != nil {
				t.Fatal("a later event repeats the history")
			}
			if find(t, d, "events-upstream").State == "open" {
				cancel()
				for range events { // the reader ends with the stream
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no event showed the breaker open")
		}
	}
}

func TestCloseEndsStreams(t *testing.T) {
	h, err := status.New(status.WithHistory(10*time.Millisecond, 10))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := readEvents(t, res.Body)
	<-events
	<-events // the sampler runs
	h.Close()
	for range events { // ends once the handler closes the stream
	}
	if w := serve(h, "GET", "/admin/events", nil); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("events after Close: %d, want 503", w.Code)
	}
	if w := serve(h, "GET", "/admin/status.json", nil); w.Code != 200 {
		t.Fatalf("status.json after Close: %d, want 200", w.Code)
	}
}

func TestNilHandler(t *testing.T) {
	var h *status.Handler
	h.Close()
	if w := serve(h, "GET", "/admin/", nil); w.Code != 404 {
		t.Fatalf("nil handler: %d, want 404", w.Code)
	}
}

// FuzzServeHTTP sends the handler any method, path, query and content
// type: it must answer (never panic), answer 200 only on its own paths,
// and never let a request through to a fault control it does not have.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/", "", ""},
		{"GET", "/status.json", "history=1", ""},
		{"POST", "/faults", "", "application/json"},
		{"HEAD", "/events", "", ""},
		{"GET", "//status.json", "", ""},
		{"OPTIONS", "/faults/", "", "text/plain;;"},
		{"GET", "/%2e%2e/status.json", "history=%zz", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	h, err := status.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	f.Fuzz(func(t *testing.T, method, path, query, ctype string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") || path == "" || path[0] != '/' {
			t.Skip()
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Method, r.URL.Path, r.URL.RawQuery = method, path, query
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		if path == "/events" && method == "GET" {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // one event, then the stream ends
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
		switch {
		case w.Code == 200 && path != "/" && path != "/status.json" && path != "/events":
			t.Fatalf("%s %s: 200", method, path)
		case path == "/faults" && w.Code != 404:
			t.Fatalf("%s /faults without WithFaults: %d", method, w.Code)
		}
	})
}

type badComponent struct{}

func TestOneBadReportDoesNotHideTheOthers(t *testing.T) {
	bad := &badComponent{}
	keep(t, bad)
	reg := status.Register("bad", "bad-stats", bad, func(_ *badComponent, dst []status.Component) []status.Component {
		return append(dst,
			status.Component{Kind: "bad", Name: "bad-stats", State: "ok", Health: status.HealthOK, Stats: map[string]any{"ch": make(chan int)}},
			status.Component{Kind: "bad", Name: "bad-value", State: "ok", Health: status.HealthOK, Value: math.NaN(), Stats: map[string]float64{"ratio": math.Inf(1)}},
			status.Component{Kind: "bad", Name: "good", State: "ok", Health: status.HealthOK, Value: 3})
	})
	defer reg.Remove()
	h := newHandler(t)
	d := getDoc(t, h, "/admin/status.json?history=1")
	if c := find(t, d, "bad-stats"); c.Stats["error"] == nil {
		t.Errorf("bad-stats row = %+v, want an error in its stats", c)
	}
	if c := find(t, d, "bad-value"); c.Value != 0 || c.Stats["error"] == nil {
		t.Errorf("bad-value row = %+v, want value 0 and an error in its stats", c)
	}
	if c := find(t, d, "good"); c.Value != 3 {
		t.Errorf("good row = %+v", c)
	}
	if w := serve(h, "GET", "/admin/", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `data-name="good"`) {
		t.Errorf("page: %d", w.Code)
	}
}
