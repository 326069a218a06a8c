package cache_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paved-go/paved/cache"
)

// scripted is an origin whose answer to its n-th call (from 1) a test
// scripts; it records what each call saw.
type scripted struct {
	mu     sync.Mutex
	n      int
	seen   []http.Header
	script func(n int, w http.ResponseWriter, r *http.Request)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.seen = append(s.seen, r.Header.Clone())
	s.mu.Unlock()
	s.script(n, w, r)
}

func (s *scripted) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *scripted) saw(i int) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[i]
}

// reply returns a script step writing status, fields and body.
func reply(w http.ResponseWriter, status int, body string, kv ...string) {
	for i := 0; i < len(kv); i += 2 {
		w.Header().Add(kv[i], kv[i+1])
	}
	w.WriteHeader(status)
	if body != "" {
		w.Write([]byte(body))
	}
}

// behind runs test twice: with the cache in front of the origin handler
// itself, and in front of an httputil.ReverseProxy to the origin served
// over loopback, as at the edge.
func behind(t *testing.T, origin http.Handler, opts []cache.Option, test func(t *testing.T, h http.Handler)) {
	t.Run("handler", func(t *testing.T) {
		test(t, newResponseCache(t, append([]cache.Option{cache.WithJitter(0)}, opts...)...).Middleware(origin))
	})
	t.Run("proxy", func(t *testing.T) {
		srv := httptest.NewServer(origin)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		proxy := httputil.NewSingleHostReverseProxy(u)
		test(t, newResponseCache(t, append([]cache.Option{cache.WithJitter(0)}, opts...)...).Middleware(proxy))
	})
}

type rfcCase struct {
	name   string
	opts   []cache.Option
	script func(n int, w http.ResponseWriter, r *http.Request)
	steps  []rfcStep
}

// rfcStep is one request and what must come of it.
type rfcStep struct {
	method, target string   // GET and /r when empty
	req            []string // request fields
	status         int      // want; 200 when 0
	body           string   // want, when not ""
	calls          int      // origin calls after the step
	has, lacks     []string // fields the response has (name or name: value) and lacks
}

func runRFC(t *testing.T, tests []rfcCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{script: tc.script}
			first := true
			behind(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.ServeHTTP(w, r) }), tc.opts, func(t *testing.T, h http.Handler) {
				if !first {
					s.mu.Lock()
					s.n, s.seen = 0, nil
					s.mu.Unlock()
				}
				first = false
				for i, st := range tc.steps {
					method, target := st.method, st.target
					if method == "" {
						method = "GET"
					}
					if target == "" {
						target = "/r"
					}
					w := do(h, method, target, st.req...)
					want := st.status
					if want == 0 {
						want = 200
					}
					if w.Code != want {
						t.Fatalf("step %d (%s %s): status %d, want %d; header %v", i+1, method, target, w.Code, want, w.Header())
					}
					if st.body != "" && w.Body.String() != st.body {
						t.Fatalf("step %d: body %q, want %q", i+1, w.Body.String(), st.body)
					}
					if got := s.calls(); got != st.calls {
						t.Fatalf("step %d: %d origin calls, want %d", i+1, got, st.calls)
					}
					for _, f := range st.has {
						name, value, valued := strings.Cut(f, ": ")
						v, ok := w.Header()[http.CanonicalHeaderKey(name)]
						got := strings.Join(v, ", ")
						match := got == value
						if prefix, suffix, glob := strings.Cut(value, "*"); glob {
							// "*" stands for a number of seconds, which a
							// second boundary can shift over the network.
							match = strings.HasPrefix(got, prefix) && strings.HasSuffix(got, suffix) && len(got) >= len(prefix)+len(suffix)
						}
						if !ok || valued && !match {
							t.Fatalf("step %d: %s is %q, want %q; header %v", i+1, name, v, value, w.Header())
						}
					}
					for _, f := range st.lacks {
						if v, ok := w.Header()[http.CanonicalHeaderKey(f)]; ok {
							t.Fatalf("step %d: has %s: %q, want none", i+1, f, v)
						}
					}
				}
			})
		})
	}
}

// versioned answers 200 with body "v<n>" and the given fields.
func versioned(kv ...string) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		reply(w, 200, "v"+strconv.Itoa(n), kv...)
	}
}

// TestRFC9111Section4_4 checks that a successful unsafe request
// invalidates its target and the same-origin Location and
// Content-Location URIs.
func TestRFC9111Section4_4(t *testing.T) {
	var tests []rfcCase
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "PURGE-ME"} {
		tests = append(tests, rfcCase{
			name:   m + " invalidates the target",
			script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{
				{body: "v1", calls: 1},
				{body: "v1", calls: 1},
				{method: m, calls: 2, has: []string{"Cache-Status"}},
				{body: "v3", calls: 3},
			},
		})
	}
	tests = append(tests,
		rfcCase{
			name: "an error status does not invalidate",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == "POST" {
					reply(w, 500, "no")
					return
				}
				reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
			},
			steps: []rfcStep{{body: "v1", calls: 1}, {method: "POST", status: 500, calls: 2}, {body: "v1", calls: 2}},
		},
		rfcCase{
			name: "Location and Content-Location of the same origin",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == "POST" {
					reply(w, 201, "", "Location", "/b", "Content-Location", "/c?x=1")
					return
				}
				reply(w, 200, r.URL.RequestURI()+" v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
			},
			steps: []rfcStep{
				{target: "/b", body: "/b v1", calls: 1},
				{target: "/c?x=1", body: "/c?x=1 v2", calls: 2},
				{target: "/d", body: "/d v3", calls: 3},
				{method: "POST", target: "/a", status: 201, calls: 4},
				{target: "/b", body: "/b v5", calls: 5},
				{target: "/c?x=1", body: "/c?x=1 v6", calls: 6},
				{target: "/d", body: "/d v3", calls: 6},
			},
		},
		rfcCase{
			name: "Location of another origin is left alone",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == "POST" {
					reply(w, 303, "", "Location", "http://other.example/b")
					return
				}
				reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
			},
			steps: []rfcStep{{target: "/b", body: "v1", calls: 1}, {method: "POST", target: "/a", status: 303, calls: 2}, {target: "/b", body: "v1", calls: 2}},
		},
		rfcCase{
			name:   "every Vary variant",
			script: versioned("Cache-Control", "max-age=60", "Vary", "Accept-Language"),
			steps: []rfcStep{
				{req: []string{"Accept-Language", "en"}, body: "v1", calls: 1},
				{req: []string{"Accept-Language", "fr"}, body: "v2", calls: 2},
				{method: "DELETE", calls: 3},
				{req: []string{"Accept-Language", "en"}, body: "v4", calls: 4},
				{req: []string{"Accept-Language", "fr"}, body: "v5", calls: 5},
			},
		},
		rfcCase{
			name:   "safe methods do not invalidate",
			script: versioned("Cache-Control", "max-age=60"),
			steps:  []rfcStep{{body: "v1", calls: 1}, {method: "OPTIONS", calls: 2}, {body: "v1", calls: 2}},
		},
	)
	runRFC(t, tests)
}

// TestRFC9111Section4_3 checks conditional revalidation of stored
// responses and the answers to clients' conditional requests.
func TestRFC9111Section4_3(t *testing.T) {
	const lm = "Mon, 01 Jan 2024 00:00:00 GMT"
	// revalidating answers 304 (with fields) to a matching conditional
	// request, and otherwise a full response.
	revalidating := func(cc string, validator ...string) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
			if n > 1 && (inm != "" && inm == validator[1] || inm == "" && ims != "" && ims == validator[1]) {
				reply(w, 304, "", "Cache-Control", "max-age=60", "X-Updated", strconv.Itoa(n))
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), append([]string{"Cache-Control", cc, "Content-Type", "text/plain"}, validator...)...)
		}
	}
	tests := []rfcCase{
		{
			name:   "strong ETag: If-None-Match, 304 updates the stored response",
			script: revalidating("max-age=0", "ETag", `"x"`),
			steps: []rfcStep{
				{body: "v1", calls: 1},
				{body: "v1", calls: 2, has: []string{"X-Updated: 2", "Cache-Control: max-age=60", "Content-Type: text/plain"}},
				{body: "v1", calls: 2, has: []string{"X-Updated: 2", "Age"}},
			},
		},
		{
			name:   "weak ETag",
			script: revalidating("max-age=0", "ETag", `W/"x"`),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2, has: []string{"X-Updated: 2"}}, {body: "v1", calls: 2}},
		},
		{
			name:   "Last-Modified: If-Modified-Since",
			script: revalidating("max-age=0", "Last-Modified", lm),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2, has: []string{"X-Updated: 2"}}, {body: "v1", calls: 2}},
		},
		{
			name:   "no-cache is revalidated, not refetched",
			script: revalidating("no-cache", "ETag", `"x"`),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2, has: []string{"X-Updated: 2"}}},
		},
		{
			name:   "must-revalidate is revalidated, not refetched",
			script: revalidating("max-age=0, must-revalidate", "ETag", `"x"`),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2, has: []string{"X-Updated: 2"}}},
		},
		{
			name:   "request no-cache revalidates",
			script: revalidating("max-age=60", "ETag", `"x"`),
			steps: []rfcStep{
				{body: "v1", calls: 1},
				{req: []string{"Cache-Control", "no-cache"}, body: "v1", calls: 2, has: []string{"X-Updated: 2"}},
			},
		},
		{
			name: "a 304 for another representation is not used",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 2 && r.Header.Get("If-None-Match") == `"x"` {
					reply(w, 304, "", "ETag", `"y"`)
					return
				}
				reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "ETag", `"x"`)
			},
			steps: []rfcStep{{body: "v1", calls: 1}, {body: "v3", calls: 3}},
		},
		{
			name: "a 304 with a strong ETag updates every Vary variant with it",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("If-None-Match") == `"x"` {
					reply(w, 304, "", "ETag", `"x"`, "Cache-Control", "max-age=60", "X-Updated", strconv.Itoa(n))
					return
				}
				reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "ETag", `"x"`, "Vary", "Accept-Language")
			},
			steps: []rfcStep{
				{req: []string{"Accept-Language", "en"}, body: "v1", calls: 1},
				{req: []string{"Accept-Language", "fr"}, body: "v2", calls: 2},
				{req: []string{"Accept-Language", "en"}, body: "v1", calls: 3, has: []string{"X-Updated: 3"}},
				{req: []string{"Accept-Language", "fr"}, body: "v2", calls: 3, has: []string{"X-Updated: 3", "Age"}},
				{req: []string{"Accept-Language", "en"}, body: "v1", calls: 3, has: []string{"Age"}},
			},
		},
		{
			name:   "a changed representation replaces the stored one",
			script: versioned("Cache-Control", "max-age=0", "ETag", `"x"`),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v2", calls: 2}},
		},
		{
			name:   "client If-Modified-Since answered 304",
			script: versioned("Cache-Control", "max-age=60", "Last-Modified", lm),
			steps: []rfcStep{
				{req: []string{"If-Modified-Since", lm}, status: 304, calls: 1},
				{req: []string{"If-Modified-Since", "Mon, 01 Jan 2024 00:00:01 GMT"}, status: 304, calls: 1},
				{req: []string{"If-Modified-Since", "Sun, 31 Dec 2023 23:59:59 GMT"}, body: "v1", calls: 1},
				{req: []string{"If-Modified-Since", "yesterday"}, body: "v1", calls: 1},
				{req: []string{"If-None-Match", `"other"`, "If-Modified-Since", lm}, body: "v1", calls: 1},
			},
		},
	}
	runRFC(t, tests)
}

// TestRFC9111Section3 checks which statuses may be stored.
func TestRFC9111Section3(t *testing.T) {
	status := func(code int, kv ...string) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, code, "v"+strconv.Itoa(n), kv...)
		}
	}
	tests := []rfcCase{
		{name: "500 with max-age", script: status(500, "Cache-Control", "max-age=60"),
			steps: []rfcStep{{status: 500, calls: 1}, {status: 500, body: "v1", calls: 1}}},
		{name: "302 with s-maxage", script: status(302, "Cache-Control", "s-maxage=60", "Location", "/x"),
			steps: []rfcStep{{status: 302, calls: 1}, {status: 302, calls: 1}}},
		{name: "299 public heuristically", opts: []cache.Option{cache.WithTTL(time.Minute)}, script: status(299, "Cache-Control", "public"),
			steps: []rfcStep{{status: 299, calls: 1}, {status: 299, body: "v1", calls: 1}}},
		{name: "302 without freshness is not heuristically cacheable", opts: []cache.Option{cache.WithTTL(time.Minute)}, script: status(302, "Location", "/x"),
			steps: []rfcStep{{status: 302, calls: 1}, {status: 302, calls: 2}}},
		{name: "must-understand overrides no-store for a known status", script: status(200, "Cache-Control", "max-age=60, must-understand, no-store"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "must-understand keeps an unknown status out", script: status(299, "Cache-Control", "max-age=60, must-understand"),
			steps: []rfcStep{{status: 299, calls: 1}, {status: 299, calls: 2}}},
		{name: "only-if-cached", script: status(200, "Cache-Control", "max-age=60"),
			steps: []rfcStep{{req: []string{"Cache-Control", "only-if-cached"}, status: 504, calls: 0}, {calls: 1}, {req: []string{"Cache-Control", "only-if-cached"}, calls: 1}}},
		{name: "206 never", script: status(206, "Cache-Control", "max-age=60", "Content-Range", "bytes 0-1/10"),
			steps: []rfcStep{{status: 206, calls: 1}, {status: 206, calls: 2}}},
	}
	runRFC(t, tests)
}

// TestRFC9111Section4_2_2 checks heuristic freshness.
func TestRFC9111Section4_2_2(t *testing.T) {
	lastModified := func(ago time.Duration) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			reply(w, 200, "v"+strconv.Itoa(n), "Date", now.UTC().Format(http.TimeFormat), "Last-Modified", now.Add(-ago).UTC().Format(http.TimeFormat))
		}
	}
	tests := []rfcCase{
		{name: "off by default: stored only to revalidate", script: lastModified(time.Hour),
			steps: []rfcStep{{calls: 1, has: []string{"Cache-Status: test; fwd=uri-miss; stored; ttl=*"}}, {calls: 2, has: []string{"Cache-Status: test; fwd=stale*"}}}},
		{name: "10% of the time since Last-Modified", opts: []cache.Option{cache.WithHeuristicFreshness(time.Hour)}, script: lastModified(time.Hour),
			steps: []rfcStep{{calls: 1}, {calls: 1, has: []string{"Age"}}}},
		{name: "not for a status that is not heuristically cacheable", opts: []cache.Option{cache.WithHeuristicFreshness(time.Hour)},
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				reply(w, 403, "", "Last-Modified", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
			},
			steps: []rfcStep{{status: 403, calls: 1}, {status: 403, calls: 2}}},
	}
	runRFC(t, tests)
}

// TestRFC9111Section5_1 checks how Age is read and sent.
func TestRFC9111Section5_1(t *testing.T) {
	tests := []rfcCase{
		{name: "a list uses the first value", script: versioned("Cache-Control", "max-age=3600", "Age", "7200, 0"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "duplicate lines use the first", script: versioned("Cache-Control", "max-age=3600", "Age", "7200", "Age", "0"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "an invalid value is ignored", script: versioned("Cache-Control", "max-age=3600", "Age", "soon"),
			steps: []rfcStep{{calls: 1}, {calls: 1, has: []string{"Age"}}}},
		{name: "forwarded answers carry no Age of ours", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1, lacks: []string{"Age"}}, {calls: 1, has: []string{"Age"}}}},
		{name: "forwarded and not stored", script: versioned("Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1, lacks: []string{"Age"}}, {calls: 2, lacks: []string{"Age"}}}},
		{name: "the upstream's Age is forwarded", script: versioned("Cache-Control", "no-store", "Age", "5"),
			steps: []rfcStep{{calls: 1, has: []string{"Age: 5"}}}},
	}
	runRFC(t, tests)
}

// TestRFC9111Section5_3 checks that an invalid Expires means already
// expired, never a far future.
func TestRFC9111Section5_3(t *testing.T) {
	var tests []rfcCase
	for _, exp := range [][]string{
		{"2:01:18"},
		{"Thu,  01 Dec 2050 16:00:00 GMT"},
		{"Thu, 01 Dec 2050 16:00:00 GMT", "Thu, 01 Dec 2050 16:00:00 GMT"},
		{"Thu, 01 Dec 2050 16:00:00 UTC"},
		{"Thu, 01 Dec 50 16:00:00 GMT"},
		{"0"},
	} {
		kv := []string{}
		for _, e := range exp {
			kv = append(kv, "Expires", e)
		}
		tests = append(tests, rfcCase{name: strings.Join(exp, " + "), opts: []cache.Option{cache.WithTTL(time.Hour)}, script: versioned(kv...),
			steps: []rfcStep{{body: "v1", calls: 1}, {body: "v2", calls: 2}}})
	}
	tests = append(tests, rfcCase{name: "a valid one", script: func(n int, w http.ResponseWriter, r *http.Request) {
		reply(w, 200, "v"+strconv.Itoa(n), "Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 1}}})
	runRFC(t, tests)
}

// TestRFC9111Section4_2_4 checks that what forbids serving stale also
// forbids it on errors.
func TestRFC9111Section4_2_4(t *testing.T) {
	failing := func(cc string, kv ...string) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			if n > 1 {
				reply(w, 503, "down")
				return
			}
			reply(w, 200, "v1", append([]string{"Cache-Control", cc}, kv...)...)
		}
	}
	var tests []rfcCase
	for _, cc := range []string{"s-maxage=0, stale-if-error=60", "max-age=0, must-revalidate, stale-if-error=60", "max-age=0, proxy-revalidate, stale-if-error=60"} {
		tests = append(tests, rfcCase{name: cc, opts: []cache.Option{cache.WithStaleIfError(time.Hour)}, script: failing(cc),
			steps: []rfcStep{{calls: 1}, {status: 503, calls: 2}}})
	}
	tests = append(tests,
		rfcCase{name: "no-cache", opts: []cache.Option{cache.WithStaleIfError(time.Hour)}, script: failing("no-cache", "ETag", `"x"`),
			steps: []rfcStep{{calls: 1}, {status: 503, calls: 2}}},
		rfcCase{name: "s-maxage forbids stale-while-revalidate", opts: []cache.Option{cache.WithStaleWhileRevalidate(time.Hour)}, script: failing("s-maxage=0, stale-while-revalidate=60"),
			steps: []rfcStep{{calls: 1}, {status: 503, calls: 2}}},
		rfcCase{name: "max-age=0 with stale-if-error serves stale", script: failing("max-age=0, stale-if-error=60"),
			steps: []rfcStep{{calls: 1}, {body: "v1", calls: 2, has: []string{"Age"}}}},
		rfcCase{name: "request no-cache forbids it", script: failing("max-age=0, stale-if-error=60"),
			steps: []rfcStep{{calls: 1}, {req: []string{"Cache-Control", "no-cache"}, status: 503, calls: 2}}},
	)
	runRFC(t, tests)
}

// TestRFC9111Section5_4 checks Pragma: no-cache.
func TestRFC9111Section5_4(t *testing.T) {
	var tests []rfcCase
	for _, tc := range []struct {
		name    string
		req     []string
		revalid bool
	}{
		{"lowercase", []string{"Pragma", "no-cache"}, true},
		{"any case", []string{"Pragma", "No-Cache"}, true},
		{"in a list", []string{"Pragma", "x-foo, no-cache"}, true},
		{"on a second line", []string{"Pragma", "x-foo", "Pragma", "no-cache"}, true},
		{"an extension with a value", []string{"Pragma", "no-cache=1"}, false},
		{"ignored beside Cache-Control", []string{"Pragma", "no-cache", "Cache-Control", "max-age=600"}, false},
	} {
		calls := 1
		if tc.revalid {
			calls = 2
		}
		tests = append(tests, rfcCase{name: tc.name, script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {req: tc.req, calls: calls}}})
	}
	runRFC(t, tests)
}

// TestRFC9111Section3_1 checks that hop-by-hop fields, fields named in
// Connection and per-request fields never come from the store.
func TestRFC9111Section3_1(t *testing.T) {
	tests := []rfcCase{
		{name: "Connection-named and per-request fields", script: versioned("Cache-Control", "max-age=60", "Connection", "X-Hop",
			"X-Hop", "1", "X-Correlation-Id", "alice", "Traceparent", "00-a", "X-Kept", "1"),
			steps: []rfcStep{{calls: 1}, {calls: 1, has: []string{"X-Kept: 1"}, lacks: []string{"X-Hop", "X-Correlation-Id", "Traceparent"}}}},
		{name: "WithUnstoredFields", opts: []cache.Option{cache.WithUnstoredFields("x-tenant")}, script: versioned("Cache-Control", "max-age=60", "X-Tenant", "a"),
			steps: []rfcStep{{calls: 1, has: []string{"X-Tenant: a"}}, {calls: 1, lacks: []string{"X-Tenant"}}}},
	}
	runRFC(t, tests)
}

// TestHTTPOuterFieldsWin is the regression for alice's correlation id
// served to bob: a field an outer middleware sets per request is never
// replaced from the store.
func TestHTTPOuterFieldsWin(t *testing.T) {
	s := &scripted{script: func(n int, w http.ResponseWriter, r *http.Request) {
		reply(w, 200, "v", "Cache-Control", "max-age=60", "X-Correlation-Id", r.Header.Get("X-Correlation-Id"))
	}}
	behind(t, s, nil, func(t *testing.T, h http.Handler) {
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Correlation-Id", r.Header.Get("X-Correlation-Id"))
			h.ServeHTTP(w, r)
		})
		for _, who := range []string{"alice", "bob", "carol"} {
			if got := do(outer, "GET", "/r", "X-Correlation-Id", who).Header().Get("X-Correlation-Id"); got != who {
				t.Fatalf("%s got X-Correlation-Id %q", who, got)
			}
		}
	})
}

// TestRFC9110Section15_2 checks that interim responses reach the client.
func TestRFC9110Section15_2(t *testing.T) {
	s := &scripted{script: func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		reply(w, 200, "v", "Cache-Control", "max-age=60")
	}}
	behind(t, s, nil, func(t *testing.T, h http.Handler) {
		w := &interimRecorder{ResponseRecorder: httptest.NewRecorder()}
		h.ServeHTTP(w, httptest.NewRequest("GET", "/r", nil))
		if len(w.interim) != 1 || w.interim[0] != "103 </style.css>; rel=preload" {
			t.Fatalf("interim responses %q", w.interim)
		}
		if w.Code != 200 || w.Header().Get("Link") != "" {
			t.Fatalf("final %d with Link %q", w.Code, w.Header().Get("Link"))
		}
	})
}

type interimRecorder struct {
	*httptest.ResponseRecorder
	interim []string
}

func (w *interimRecorder) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		w.interim = append(w.interim, strconv.Itoa(code)+" "+w.Header().Get("Link"))
		return
	}
	w.ResponseRecorder.WriteHeader(code)
}

// TestRFC9110Section14 checks that Range requests pass through.
func TestRFC9110Section14(t *testing.T) {
	runRFC(t, []rfcCase{{
		name: "never answered from a stored 200",
		script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				reply(w, 206, "v", "Content-Range", "bytes 0-0/2", "Cache-Control", "max-age=60")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		},
		steps: []rfcStep{
			{body: "v1", calls: 1},
			{req: []string{"Range", "bytes=0-0"}, status: 206, calls: 2, lacks: []string{"Age"}},
			{req: []string{"Range", "bytes=0-0"}, status: 206, calls: 3},
			{body: "v1", calls: 3},
		},
	}})
}

// TestRFC9213 checks targeted cache-control fields.
func TestRFC9213(t *testing.T) {
	tests := []rfcCase{
		{name: "CDN-Cache-Control wins over Cache-Control", script: versioned("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 1, has: []string{"Cdn-Cache-Control", "Cache-Control: no-store"}}}},
		{name: "and over Expires", script: versioned("Expires", "0", "CDN-Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "an invalid one is ignored", script: versioned("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60;;"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "a directive of the wrong type is ignored", script: versioned("Cache-Control", "max-age=60", "CDN-Cache-Control", `max-age="60"`),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "no-store in it", script: versioned("Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "a field of our own", opts: []cache.Option{cache.WithTargetedCacheControl("Paved-Cache-Control", "CDN-Cache-Control")},
			script: versioned("Paved-Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"),
			steps:  []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "obeying none", opts: []cache.Option{cache.WithTargetedCacheControl()},
			script: versioned("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"),
			steps:  []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "not forwarded when asked", opts: []cache.Option{cache.WithForwardTargetedCacheControl(false)},
			script: versioned("CDN-Cache-Control", "max-age=60"),
			steps:  []rfcStep{{calls: 1, lacks: []string{"Cdn-Cache-Control"}}, {calls: 1, lacks: []string{"Cdn-Cache-Control"}}}},
	}
	runRFC(t, tests)
}

// TestRFC9211 checks the Cache-Status members the cache adds.
func TestRFC9211(t *testing.T) {
	tests := []rfcCase{
		{name: "miss stored, then hit", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{
				{calls: 1, has: []string{"Cache-Status: test; fwd=uri-miss; stored; ttl=*"}},
				{calls: 1, has: []string{"Cache-Status: test; hit; ttl=*"}},
				{req: []string{"Cache-Control", "no-cache"}, calls: 2, has: []string{"Cache-Status: test; fwd=request; stored; ttl=*"}},
			}},
		{name: "vary-miss", script: versioned("Cache-Control", "max-age=60", "Vary", "Accept-Language"),
			steps: []rfcStep{
				{req: []string{"Accept-Language", "en"}, calls: 1},
				{req: []string{"Accept-Language", "fr"}, calls: 2, has: []string{"Cache-Status: test; fwd=vary-miss; stored; ttl=*"}},
			}},
		{name: "stale revalidated", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"x"` {
				reply(w, 304, "", "Cache-Control", "max-age=60")
				return
			}
			reply(w, 200, "v", "Cache-Control", "max-age=0", "ETag", `"x"`)
		},
			steps: []rfcStep{
				{calls: 1, has: []string{"Cache-Status: test; fwd=uri-miss; stored; ttl=*"}},
				{calls: 2, has: []string{"Cache-Status: test; fwd=stale; fwd-status=304; stored; ttl=*"}},
			}},
		{name: "upstream members come first", script: versioned("Cache-Control", "max-age=60", "Cache-Status", "origin-cache; hit"),
			steps: []rfcStep{
				{calls: 1, has: []string{"Cache-Status: origin-cache; hit, test; fwd=uri-miss; stored; ttl=*"}},
				{calls: 1, has: []string{"Cache-Status: origin-cache; hit, test; hit; ttl=*"}},
			}},
		{name: "method", script: versioned(), steps: []rfcStep{{method: "POST", calls: 1, has: []string{"Cache-Status: test; fwd=method"}}}},
		{name: "key", opts: []cache.Option{cache.WithCacheStatusKey(true)}, script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{target: "/r?a=1", calls: 1}, {target: "/r?a=1", calls: 1, has: []string{`Cache-Status: test; hit; ttl=*; key="example.com/r?a=1"`}}}},
		{name: "off", opts: []cache.Option{cache.WithCacheStatus(false)}, script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1, lacks: []string{"Cache-Status"}}, {calls: 1, lacks: []string{"Cache-Status"}}}},
	}
	runRFC(t, tests)
}

// TestRFC9110Section6_6_1 checks that a response without Date gets the
// time it was received, forwarded as well as stored.
func TestRFC9110Section6_6_1(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil // net/http adds none then, as a proxy may not either
			reply(w, 200, "v", "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{calls: 1, has: []string{"Date: * GMT"}}, {calls: 1, has: []string{"Date: * GMT"}}}},
		{name: "not stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			reply(w, 200, "v", "Cache-Control", "no-store")
		}, steps: []rfcStep{{calls: 1, has: []string{"Date: * GMT"}}}},
	})
}

// TestRFC9111Section4_2_4ArrivedStale checks that a response which was
// already stale when it arrived (its Age exceeds its lifetime) is served
// stale only within what max-stale, stale-while-revalidate or
// stale-if-error allow counted from when it became stale, not from when
// it was stored.
func TestRFC9111Section4_2_4ArrivedStale(t *testing.T) {
	failing := func(cc string) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			if n > 1 {
				reply(w, 500, "err")
				return
			}
			reply(w, 200, "v1", "Cache-Control", cc, "Age", "30", "ETag", `"x"`)
		}
	}
	runRFC(t, []rfcCase{
		{name: "max-stale shorter than the staleness", script: versioned("Cache-Control", "max-age=1", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{body: "v1", calls: 1}, {req: []string{"Cache-Control", "max-stale=5"}, body: "v2", calls: 2}}},
		{name: "max-stale longer", script: versioned("Cache-Control", "max-age=1", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{calls: 1}, {req: []string{"Cache-Control", "max-stale=60"}, body: "v1", calls: 1, has: []string{"Cache-Status: test; hit; ttl=-29"}}}},
		{name: "stale-while-revalidate over before arrival", script: versioned("Cache-Control", "max-age=1, stale-while-revalidate=10", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{body: "v1", calls: 1}, {body: "v2", calls: 2}}},
		{name: "stale-if-error over before arrival", script: failing("max-age=1, stale-if-error=10"),
			steps: []rfcStep{{calls: 1}, {status: 500, calls: 2}}},
		{name: "stale-if-error left after arrival", script: failing("max-age=1, stale-if-error=100"),
			steps: []rfcStep{{calls: 1}, {body: "v1", calls: 2, has: []string{"Cache-Status: test; hit; ttl=-29"}}}},
		{name: "WithStaleIfError over before arrival", opts: []cache.Option{cache.WithStaleIfError(10 * time.Second)}, script: failing("max-age=1"),
			steps: []rfcStep{{calls: 1}, {status: 500, calls: 2}}},
	})
}

// TestRFC9111Section4_1 checks Vary matching: field names in any case
// and over several Vary lines, and a field absent from a request
// matching only a request where it is absent too, not an empty value.
func TestRFC9111Section4_1(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "names in any case", script: versioned("Cache-Control", "max-age=60", "Vary", "FOO"),
			steps: []rfcStep{{req: []string{"foo", "a"}, calls: 1}, {req: []string{"Foo", "a"}, calls: 1}, {req: []string{"Foo", "b"}, calls: 2}}},
		{name: "several Vary lines", script: versioned("Cache-Control", "max-age=60", "Vary", "Foo", "Vary", "Bar"),
			steps: []rfcStep{{req: []string{"Foo", "a", "Bar", "1"}, calls: 1}, {req: []string{"Foo", "a", "Bar", "1"}, calls: 1}, {req: []string{"Foo", "a", "Bar", "2"}, calls: 2}}},
		{name: "empty is not absent", script: versioned("Cache-Control", "max-age=60", "Vary", "Foo"),
			steps: []rfcStep{{req: []string{"Foo", ""}, body: "v1", calls: 1}, {body: "v2", calls: 2}, {req: []string{"Foo", ""}, body: "v1", calls: 2}, {body: "v2", calls: 2}}},
		{name: "absent matches absent", script: versioned("Cache-Control", "max-age=60", "Vary", "Foo, Bar"),
			steps: []rfcStep{{req: []string{"Bar", "1"}, body: "v1", calls: 1}, {req: []string{"Bar", "1"}, body: "v1", calls: 1}, {req: []string{"Foo", "", "Bar", "1"}, body: "v2", calls: 2}}},
	})
}

// TestRFC9110Section9_3_2 checks that a HEAD answered from a GET carries
// the GET's Content-Length, on the miss that loads it as from the store.
func TestRFC9110Section9_3_2(t *testing.T) {
	runRFC(t, []rfcCase{{name: "HEAD miss and hit", script: versioned("Cache-Control", "max-age=60"),
		steps: []rfcStep{
			{method: "HEAD", calls: 1, has: []string{"Content-Length: 2"}},
			{method: "HEAD", calls: 1, has: []string{"Content-Length: 2"}},
			{body: "v1", calls: 1, has: []string{"Content-Length: 2"}},
		}}})
}
