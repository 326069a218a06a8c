package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

// served is a handler that records that it ran.
type served struct{ n int }

func (s *served) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.n++
	io.WriteString(w, "ok")
}

// serve builds a ServeMux with mw on each route, the way a service does
// so that r.Pattern reaches the middleware.
func serve(t *testing.T, mw func(http.Handler) http.Handler, next http.Handler, routes ...string) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	for _, p := range routes {
		mux.Handle(p, mw(next))
	}
	return mux
}

// call sends one request to h from remote, with an API key when key is
// not empty.
func call(h http.Handler, method, path, remote, key string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func keyed(t *testing.T, limit rate.Limit, burst int) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(limit, burst)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func middleware(t *testing.T, def ratelimit.Policy, opts ...ratelimit.Option) func(http.Handler) http.Handler {
	t.Helper()
	p, err := ratelimit.NewPolicies(def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p.Middleware
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return p
}

// want is what one response must carry.
type want struct {
	status     int
	rateLimit  []string // RateLimit field lines; nil means none
	policy     []string // RateLimit-Policy field lines
	retryAfter string
}

func check(t *testing.T, i int, w *httptest.ResponseRecorder, wt want) {
	t.Helper()
	h := w.Result().Header
	if w.Code != wt.status {
		t.Errorf("request %d: status %d, want %d", i, w.Code, wt.status)
	}
	if got := h.Values("RateLimit"); !slices.Equal(got, wt.rateLimit) {
		t.Errorf("request %d: RateLimit = %q, want %q", i, got, wt.rateLimit)
	}
	if got := h.Values("RateLimit-Policy"); !slices.Equal(got, wt.policy) {
		t.Errorf("request %d: RateLimit-Policy = %q, want %q", i, got, wt.policy)
	}
	if got := h.Get("Retry-After"); got != wt.retryAfter {
		t.Errorf("request %d: Retry-After = %q, want %q", i, got, wt.retryAfter)
	}
}

func TestMiddlewareLimitsAndRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		next := &served{}
		mw := middleware(t, ratelimit.Policy{Name: "default", Limiter: keyed(t, 1, 2)})
		mux := serve(t, mw, next, "GET /instances")
		pol := []string{`"default";q=2;w=2`}

		check(t, 1, call(mux, "GET", "/instances", "198.51.100.1:1", ""), want{200, []string{`"default";r=1;t=1`}, pol, ""})
		check(t, 2, call(mux, "GET", "/instances", "198.51.100.1:2", ""), want{200, []string{`"default";r=0;t=2`}, pol, ""})
		w := call(mux, "GET", "/instances", "198.51.100.1:3", "")
		check(t, 3, w, want{429, []string{`"default";r=0;t=1`}, pol, "1"})
		p := decodeProblem(t, w)
		if p.Status != 429 || p.Title != "Too Many Requests" || !strings.Contains(p.Detail, `policy "default"`) {
			t.Errorf("problem = %+v", p)
		}
		if next.n != 2 {
			t.Fatalf("handler ran %d times, want 2: a limited request must not reach it", next.n)
		}
		check(t, 4, call(mux, "GET", "/instances", "198.51.100.2:1", ""), want{200, []string{`"default";r=1;t=1`}, pol, ""})

		time.Sleep(500 * time.Millisecond)
		w = call(mux, "GET", "/instances", "198.51.100.1:4", "")
		check(t, 5, w, want{429, []string{`"default";r=0;t=1`}, pol, "1"})
		time.Sleep(500 * time.Millisecond)
		check(t, 6, call(mux, "GET", "/instances", "198.51.100.1:5", ""), want{200, []string{`"default";r=0;t=2`}, pol, ""})
	})
}

func TestMiddlewarePerRoutePolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mw := middleware(t,
			ratelimit.Policy{Name: "api", Limiter: keyed(t, rate.Every(time.Minute), 3), Key: ratelimit.APIKey},
			ratelimit.WithRoute("POST /instances", ratelimit.Policy{Name: "launch", Limiter: keyed(t, rate.Every(10*time.Second), 1), Key: ratelimit.APIKey}),
			ratelimit.WithRoute("GET /healthz", ratelimit.Policy{}), // exempt
		)
		mux := serve(t, mw, &served{}, "GET /instances", "POST /instances", "GET /healthz")
		api := []string{`"api";q=3;w=180`}
		launch := []string{`"launch";q=1;w=10`}
		const ip = "198.51.100.1:1"

		check(t, 1, call(mux, "POST", "/instances", ip, "alice"), want{200, []string{`"launch";r=0;t=10`}, launch, ""})
		check(t, 2, call(mux, "POST", "/instances", ip, "alice"), want{429, []string{`"launch";r=0;t=10`}, launch, "10"})
		check(t, 3, call(mux, "POST", "/instances", ip, "bob"), want{200, []string{`"launch";r=0;t=10`}, launch, ""})
		check(t, 4, call(mux, "GET", "/instances", ip, "alice"), want{200, []string{`"api";r=2;t=60`}, api, ""})
		for i := range 5 {
			check(t, 5+i, call(mux, "GET", "/healthz", ip, ""), want{status: 200})
		}
	})
}

func TestMiddlewareRejectsRequestsWithoutKey(t *testing.T) {
	tests := []struct {
		name   string
		key    ratelimit.KeyFunc
		opts   []ratelimit.Option
		header string // the X-Tenant header sent; "" sends none
		want   []int  // statuses of three requests in a row
	}{
		{name: "no key is a 400", key: ratelimit.Header("X-Tenant"), want: []int{400, 400, 400}},
		{name: "keys have their own buckets", key: ratelimit.Header("X-Tenant"), header: "t1", want: []int{200, 429, 429}},
		{
			name: "key function error is a 400",
			key: func(*http.Request) (string, error) {
				return "", errors.New("tenant header secret-value-123 is malformed")
			},
			want: []int{400, 400, 400},
		},
		{name: "anonymous callers share a bucket", key: ratelimit.Header("X-Tenant"), opts: []ratelimit.Option{ratelimit.WithAnonymousKey("anonymous")}, want: []int{200, 429, 429}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mw := middleware(t, ratelimit.Policy{Name: "tenant", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: tc.key}, tc.opts...)
			h := mw(&served{})
			for i, status := range tc.want {
				r := httptest.NewRequest("GET", "/", nil)
				r.RemoteAddr = "198.51.100.1:" + strconv.Itoa(1000+i) // different ports, one address
				if tc.header != "" {
					r.Header.Set("X-Tenant", tc.header)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != status {
					t.Fatalf("request %d: status %d, want %d", i, w.Code, status)
				}
				if status == 400 {
					p := decodeProblem(t, w)
					if p.Detail != ratelimit.ErrNoKey.Error() || strings.Contains(w.Body.String(), "secret") {
						t.Fatalf("400 body = %s, want ErrNoKey and nothing from the key function", w.Body)
					}
				}
			}
		})
	}
}

func TestMiddlewareHeadersOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := middleware(t, ratelimit.Policy{Name: "quiet", Limiter: keyed(t, rate.Every(time.Hour), 1)}, ratelimit.WithHeaders(false))(&served{})
		check(t, 1, call(h, "GET", "/", "198.51.100.1:1", ""), want{status: 200})
		check(t, 2, call(h, "GET", "/", "198.51.100.1:1", ""), want{status: 429, retryAfter: "3600"})
	})
}

func TestMiddlewareFilter(t *testing.T) {
	h := middleware(t, ratelimit.Policy{Name: "f", Limiter: keyed(t, rate.Every(time.Hour), 1)},
		ratelimit.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" }))(&served{})
	for i := range 3 {
		check(t, i, call(h, "GET", "/healthz", "198.51.100.1:1", ""), want{status: 200})
	}
	check(t, 3, call(h, "GET", "/", "198.51.100.1:1", ""), want{200, []string{`"f";r=0;t=3600`}, []string{`"f";q=1;w=3600`}, ""})
}

func TestMiddlewareErrorHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got error
		h := middleware(t, ratelimit.Policy{Name: "custom", Limiter: keyed(t, rate.Every(time.Hour), 1)},
			ratelimit.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				if w.Header().Get("RateLimit") == "" || w.Header().Get("Retry-After") != "3600" {
					t.Error("headers not set before the error handler ran")
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))(&served{})
		call(h, "GET", "/", "198.51.100.1:1", "")
		w := call(h, "GET", "/", "198.51.100.1:1", "")
		le, ok := errors.AsType[*ratelimit.LimitError](got)
		if w.Code != 503 || !ok || le.Policy != "custom" || le.RetryAfter != time.Hour {
			t.Fatalf("status %d, error %#v; want 503 from the handler and the *LimitError", w.Code, got)
		}
	})
}

func TestMiddlewareStacked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		perIP := middleware(t, ratelimit.Policy{Name: "ip", Limiter: keyed(t, rate.Every(time.Hour), 10)})
		perKey := middleware(t, ratelimit.Policy{Name: "key", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimit.APIKey})
		h := perIP(perKey(&served{}))
		pol := []string{`"ip";q=10;w=36000`, `"key";q=1;w=3600`}
		check(t, 1, call(h, "GET", "/", "198.51.100.1:1", "k"), want{200, []string{`"ip";r=9;t=3600`, `"key";r=0;t=3600`}, pol, ""})
		check(t, 2, call(h, "GET", "/", "198.51.100.1:1", "k"), want{429, []string{`"ip";r=8;t=7200`, `"key";r=0;t=3600`}, pol, "3600"})
	})
}

func TestMiddlewareHeaderSyntax(t *testing.T) {
	tests := []struct {
		name, policy string
		limiter      ratelimit.Decider
		wantPolicy   []string
		wantLimit    []string
	}{
		{"quotes and backslashes are escaped", `a"b\c`, keyed(t, 2, 4), []string{`"a\"b\\c";q=4;w=2`}, []string{`"a\"b\\c";r=3;t=1`}},
		{"window rounds up", "w", keyed(t, 3, 4), []string{`"w";q=4;w=2`}, []string{`"w";r=3;t=1`}},
		{"fast rate has a 1s window", "fast", keyed(t, 1000, 10), []string{`"fast";q=10;w=1`}, []string{`"fast";r=9;t=1`}},
		{"single limiter", "global", mustNew(t, 1, 5), []string{`"global";q=5;w=5`}, []string{`"global";r=4;t=1`}},
		{"unlimited quota is not advertised", "inf", keyed(t, rate.Inf, 1), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := middleware(t, ratelimit.Policy{Name: tc.policy, Limiter: tc.limiter})(&served{})
			check(t, 1, call(h, "GET", "/", "198.51.100.1:1", ""), want{200, tc.wantLimit, tc.wantPolicy, ""})
		})
	}
}

func mustNew(t *testing.T, limit rate.Limit, burst int, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(limit, burst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMiddlewareOptions(t *testing.T) {
	k := keyed(t, 1, 1)
	good := ratelimit.Policy{Name: "p", Limiter: k}
	tests := []struct {
		name string
		def  ratelimit.Policy
		opts []ratelimit.Option
	}{
		{"no limiter anywhere", ratelimit.Policy{}, []ratelimit.Option{ratelimit.WithRoute("GET /", ratelimit.Policy{})}},
		{"empty name", ratelimit.Policy{Limiter: k}, nil},
		{"name not printable ASCII", ratelimit.Policy{Name: "é", Limiter: k}, nil},
		{"route with a bad name", good, []ratelimit.Option{ratelimit.WithRoute("GET /", ratelimit.Policy{Name: "a\nb", Limiter: k})}},
		{"bad pattern", good, []ratelimit.Option{ratelimit.WithRoute("GET /{", good)}},
		{"pattern twice", good, []ratelimit.Option{ratelimit.WithRoute("GET /a", good), ratelimit.WithRoute("GET /a", good)}},
		{"limiter option", good, []ratelimit.Option{ratelimit.WithMaxKeys(5)}},
		{"wait option", good, []ratelimit.Option{ratelimit.WithMaxWait(0)}},
		{"empty anonymous key", good, []ratelimit.Option{ratelimit.WithAnonymousKey("")}},
		{"nil error handler", good, []ratelimit.Option{ratelimit.WithErrorHandler(nil)}},
		{"nil option", good, []ratelimit.Option{nil}},
		{"nil filter", good, []ratelimit.Option{ratelimit.WithFilter(nil)}},
		{"nil *Keyed", ratelimit.Policy{Name: "p", Limiter: (*ratelimit.Keyed)(nil)}, nil},
		{"nil *Limiter on a route", good, []ratelimit.Option{ratelimit.WithRoute("GET /", ratelimit.Policy{Name: "p", Limiter: (*ratelimit.Limiter)(nil)})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ratelimit.NewPolicies(tc.def, tc.opts...); err == nil {
				t.Fatal("NewPolicies accepted it")
			}
		})
	}
	if _, err := ratelimit.NewPolicies(ratelimit.Policy{}, ratelimit.WithRoute("POST /instances", good)); err != nil {
		t.Fatalf("only a route limited: %v", err)
	}
}

// TestMiddlewareOverHTTP runs the middleware on a real server: a burst of
// requests, the 429 a client sees, and the headers on the wire.
func TestMiddlewareOverHTTP(t *testing.T) {
	mw := middleware(t, ratelimit.Policy{Name: "default", Limiter: keyed(t, rate.Every(time.Minute), 3)})
	srv := httptest.NewServer(serve(t, mw, &served{}, "GET /instances"))
	defer srv.Close()
	var statuses []int
	var last *http.Response
	for range 5 {
		resp, err := srv.Client().Get(srv.URL + "/instances")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		last = resp
	}
	if !slices.Equal(statuses, []int{200, 200, 200, 429, 429}) {
		t.Fatalf("statuses %v, want three 200s then 429s", statuses)
	}
	if last.Header.Get("Retry-After") == "" || last.Header.Get("RateLimit") != `"default";r=0;t=`+last.Header.Get("Retry-After") ||
		last.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("429 headers: %v", last.Header)
	}
}

// TestWithRouteOutsideMuxWarns mounts policies with a route policy around
// the ServeMux, where r.Pattern is still empty, so the route policy cannot
// apply: the default policy limits every request, and one Warn line says
// where to mount the middleware instead. Inside the mux nothing is logged.
func TestWithRouteOutsideMuxWarns(t *testing.T) {
	tests := []struct {
		name     string
		mount    func(p *ratelimit.Policies, mux *http.ServeMux) http.Handler
		wantWarn bool
		// statuses of three POST /instances from one client: the route
		// policy allows one an hour, the default three.
		want []int
	}{
		{
			name:  "around the mux",
			mount: func(p *ratelimit.Policies, mux *http.ServeMux) http.Handler { return p.Middleware(mux) },
			// The default policy applies: the route policy is never seen.
			wantWarn: true, want: []int{200, 200, 200},
		},
		{
			name: "around a router that is not a ServeMux",
			mount: func(p *ratelimit.Policies, mux *http.ServeMux) http.Handler {
				return p.Middleware(http.HandlerFunc(mux.ServeHTTP))
			},
			wantWarn: true, want: []int{200, 200, 200},
		},
		{
			name: "inside the mux, on the route",
			mount: func(p *ratelimit.Policies, _ *http.ServeMux) http.Handler {
				mux := http.NewServeMux()
				mux.Handle("POST /instances", p.Middleware(&served{}))
				return mux
			},
			want: []int{200, 429, 429},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			p, err := ratelimit.NewPolicies(
				ratelimit.Policy{Name: "api", Limiter: keyed(t, rate.Every(time.Hour), 3)},
				ratelimit.WithRoute("POST /instances", ratelimit.Policy{Name: "launch", Limiter: keyed(t, rate.Every(time.Hour), 1)}),
				ratelimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("POST /instances", &served{})
			h := tc.mount(p, mux)
			for i, status := range tc.want {
				if w := call(h, "POST", "/instances", "198.51.100.1:1", ""); w.Code != status {
					t.Fatalf("request %d: status %d, want %d", i, w.Code, status)
				}
			}
			warns := strings.Count(logs.String(), "level=WARN")
			if want := map[bool]int{true: 1, false: 0}[tc.wantWarn]; warns != want || (want == 1 && !strings.Contains(logs.String(), "inside the ServeMux")) {
				t.Fatalf("logs %q: %d Warn lines, want %d saying where to mount it", logs.String(), warns, want)
			}
		})
	}
}

// TestUnixSocket serves the middleware on a Unix socket, where RemoteAddr
// holds no IP address ("@"): requests are keyed LocalKey and share one
// bucket instead of being rejected with 400, and behind a trusted proxy
// that reaches the server over the socket, the proxy's header keys them.
func TestUnixSocket(t *testing.T) {
	lb := ratelimit.Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name string
		key  ratelimit.KeyFunc
		xff  []string // X-Forwarded-For of each request; nil sends none
		want []int
	}{
		{name: "client IP, the default", want: []int{200, 200, 429}},
		{name: "client IP behind no proxy", key: lb.ClientIP, want: []int{200, 200, 429}},
		{name: "client IP from a trusted proxy's header", key: lb.ClientIP, xff: []string{"198.51.100.1", "198.51.100.2", "198.51.100.1", "198.51.100.1"}, want: []int{200, 200, 200, 429}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s")
			lis, err := net.Listen("unix", sock)
			if err != nil {
				t.Skipf("no Unix sockets here: %v", err)
			}
			var remotes []string
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { remotes = append(remotes, r.RemoteAddr) })
			h := middleware(t, ratelimit.Policy{Name: "local", Limiter: keyed(t, rate.Every(time.Hour), 2), Key: tc.key})(inner)
			srv := &http.Server{Handler: h}
			done := make(chan struct{})
			go func() { defer close(done); srv.Serve(lis) }()
			defer func() { srv.Close(); <-done }()
			client := &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "unix", sock)
				},
			}}
			defer client.CloseIdleConnections()
			for i, status := range tc.want {
				req, _ := http.NewRequest("GET", "http://unix/", nil)
				if tc.xff != nil {
					req.Header.Set("X-Forwarded-For", tc.xff[i])
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != status {
					t.Fatalf("request %d: status %d, want %d (RemoteAddrs seen: %q)", i, resp.StatusCode, status, remotes)
				}
			}
		})
	}
}

// TestInProcessRequests serves requests whose RemoteAddr is empty or not
// an address, as in-process callers and test harnesses make them.
func TestInProcessRequests(t *testing.T) {
	for _, remote := range []string{"", "@", "pipe"} {
		h := middleware(t, ratelimit.Policy{Name: "p", Limiter: keyed(t, rate.Every(time.Hour), 1)})(&served{})
		check(t, 1, call(h, "GET", "/", remote, ""), want{200, []string{`"p";r=0;t=3600`}, []string{`"p";q=1;w=3600`}, ""})
		check(t, 2, call(h, "GET", "/", "other-"+remote, ""), want{429, []string{`"p";r=0;t=3600`}, []string{`"p";q=1;w=3600`}, "3600"})
	}
}

// TestOneBucketNeedsNoKey checks that a policy on a *Limiter, one bucket
// for everyone, computes no key: a request that a key function could not
// key is limited by the bucket, not rejected.
func TestOneBucketNeedsNoKey(t *testing.T) {
	h := middleware(t, ratelimit.Policy{Name: "global", Limiter: mustNew(t, rate.Every(time.Hour), 2)})(&served{})
	for i, status := range []int{200, 200, 429} {
		if w := call(h, "GET", "/", "not an address", ""); w.Code != status {
			t.Fatalf("request %d: status %d, want %d", i, w.Code, status)
		}
	}
}

// TestNilPolicies checks that the middleware of a nil *Policies, what a
// caller who ignored NewPolicies's error holds, passes requests through
// and says so at Error, instead of panicking at the first request.
func TestNilPolicies(t *testing.T) {
	var logs strings.Builder
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	var p *ratelimit.Policies
	next := &served{}
	h := p.Middleware(next)
	check(t, 1, call(h, "GET", "/", "198.51.100.1:1", ""), want{status: 200})
	if next.n != 1 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("handler ran %d times, logs %q; want 1 and an error line", next.n, logs.String())
	}
}

// TestNilMeterProviderIsTheGlobalOne: a nil MeterProvider means the global
// one, as every paved package reads it, not an error from the constructor.
func TestNilMeterProviderIsTheGlobalOne(t *testing.T) {
	mw := middleware(t, ratelimit.Policy{Name: "p", Limiter: keyed(t, rate.Every(time.Hour), 1)}, ratelimit.WithMeterProvider(nil))
	h := serve(t, mw, &served{}, "GET /")
	for i, status := range []int{http.StatusOK, http.StatusTooManyRequests} {
		if w := call(h, "GET", "/", "198.51.100.1:1", ""); w.Code != status {
			t.Fatalf("request %d: %d, want %d", i+1, w.Code, status)
		}
	}
	if _, err := ratelimit.NewEnforcer("p", keyed(t, 1, 1), ratelimit.WithMeterProvider(nil)); err != nil {
		t.Fatalf("NewEnforcer: %v", err)
	}
}
