package cache_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/cache"
)

// TestHTTPRules checks which responses a second identical request gets
// from the cache, against RFC 9111's rules for a shared cache.
func TestHTTPRules(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		resp    []string // response header fields
		req     []string // request header fields, on both requests
		method  string   // of both requests; GET if empty
		opts    []cache.Option
		between time.Duration // time between the requests
		stored  bool          // the second request is served from the cache
		rule    string
	}{
		{name: "max-age", status: 200, resp: []string{"Cache-Control", "max-age=60"}, stored: true, rule: "5.2.2.1"},
		{name: "max-age elapsed", status: 200, resp: []string{"Cache-Control", "max-age=60"}, between: 60 * time.Second, rule: "4.2"},
		{name: "s-maxage wins for a shared cache", status: 200, resp: []string{"Cache-Control", "max-age=60, s-maxage=1"}, between: time.Second, rule: "5.2.2.10"},
		{name: "no-store", status: 200, resp: []string{"Cache-Control", "max-age=60, no-store"}, rule: "5.2.2.5"},
		{name: "private", status: 200, resp: []string{"Cache-Control", "private, max-age=60"}, rule: "5.2.2.7"},
		{name: "qualified private", status: 200, resp: []string{"Cache-Control", `private="X-User", max-age=60`}, rule: "5.2.2.7"},
		{name: "no-cache without a validator", status: 200, resp: []string{"Cache-Control", "no-cache, max-age=60"}, rule: "5.2.2.4"},
		{name: "Set-Cookie", status: 200, resp: []string{"Cache-Control", "public, max-age=60", "Set-Cookie", "session=abc"}, rule: "7.3 (never shared here)"},
		{name: "Authorization without public", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Authorization", "Bearer x"}, rule: "3.5"},
		{name: "Authorization with public", status: 200, resp: []string{"Cache-Control", "public, max-age=60"}, req: []string{"Authorization", "Bearer x"}, stored: true, rule: "3.5"},
		{name: "Authorization with s-maxage", status: 200, resp: []string{"Cache-Control", "s-maxage=60"}, req: []string{"Authorization", "Bearer x"}, stored: true, rule: "3.5"},
		{name: "Authorization with must-revalidate", status: 200, resp: []string{"Cache-Control", "must-revalidate, max-age=60"}, req: []string{"Authorization", "Bearer x"}, stored: true, rule: "3.5"},
		{name: "Authorization with proxy-revalidate only", status: 200, resp: []string{"Cache-Control", "proxy-revalidate, max-age=60"}, req: []string{"Authorization", "Bearer x"}, rule: "3.5"},
		{name: "no freshness, no WithTTL", status: 200, rule: "4.2.2 (no heuristics)"},
		{name: "no freshness, WithTTL", status: 200, opts: []cache.Option{cache.WithTTL(time.Minute)}, stored: true, rule: "4.2.2"},
		{name: "explicit freshness beats WithTTL", status: 200, resp: []string{"Cache-Control", "max-age=1"}, opts: []cache.Option{cache.WithTTL(time.Hour)}, between: time.Second, rule: "4.2.1"},
		{name: "max-age=0", status: 200, resp: []string{"Cache-Control", "max-age=0"}, opts: []cache.Option{cache.WithTTL(time.Hour)}, rule: "4.2.1"},
		{name: "invalid max-age is stale", status: 200, resp: []string{"Cache-Control", "max-age=soon"}, opts: []cache.Option{cache.WithTTL(time.Hour)}, rule: "4.2.1"},
		{name: "Expires", status: 200, resp: []string{"Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Expires", "Mon, 01 Jan 2024 00:01:00 GMT"}, stored: true, rule: "5.3"},
		{name: "invalid Expires is expired", status: 200, resp: []string{"Expires", "0"}, opts: []cache.Option{cache.WithTTL(time.Hour)}, rule: "5.3"},
		{name: "max-age beats Expires", status: 200, resp: []string{"Cache-Control", "max-age=60", "Expires", "0"}, stored: true, rule: "5.3"},
		{name: "handler's Age counts", status: 200, resp: []string{"Cache-Control", "max-age=60", "Age", "59"}, between: time.Second, rule: "4.2.3"},
		{name: "404 with max-age", status: 404, resp: []string{"Cache-Control", "max-age=60"}, stored: true, rule: "3"},
		{name: "500 with max-age", status: 500, resp: []string{"Cache-Control", "max-age=60"}, stored: true, rule: "3"},
		{name: "500 without freshness", status: 500, opts: []cache.Option{cache.WithTTL(time.Hour)}, rule: "3, 4.2.2 (not heuristically cacheable)"},
		{name: "418 with Expires", status: 418, resp: []string{"Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Expires", "Mon, 01 Jan 2024 00:01:00 GMT"}, stored: true, rule: "3"},
		{name: "302 public", status: 302, resp: []string{"Cache-Control", "public"}, opts: []cache.Option{cache.WithTTL(time.Hour)}, stored: true, rule: "3, 5.2.2.9"},
		{name: "302 without freshness", status: 302, opts: []cache.Option{cache.WithTTL(time.Hour)}, rule: "3 (not heuristically cacheable)"},
		{name: "206 never", status: 206, resp: []string{"Cache-Control", "max-age=60"}, rule: "3.3 (no ranges here)"},
		{name: "Vary: *", status: 200, resp: []string{"Cache-Control", "max-age=60", "Vary", "*"}, rule: "4.1"},
		{name: "request no-cache", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "no-cache"}, rule: "5.2.1.4"},
		{name: "request Pragma: no-cache", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Pragma", "no-cache"}, rule: "5.4"},
		{name: "request no-store", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "no-store"}, rule: "5.2.1.5"},
		{name: "request max-age older", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "max-age=5"}, between: 6 * time.Second, rule: "5.2.1.1"},
		{name: "request max-age younger", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "max-age=5"}, between: 5 * time.Second, stored: true, rule: "5.2.1.1"},
		{name: "request min-fresh met", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "min-fresh=30"}, between: 29 * time.Second, stored: true, rule: "5.2.1.3"},
		{name: "request min-fresh not met", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Cache-Control", "min-fresh=30"}, between: 31 * time.Second, rule: "5.2.1.3"},
		{name: "request max-stale", status: 200, resp: []string{"Cache-Control", "max-age=10"}, req: []string{"Cache-Control", "max-stale=60"}, between: 20 * time.Second, stored: true, rule: "5.2.1.2"},
		{name: "request max-stale without a value", status: 200, resp: []string{"Cache-Control", "max-age=10"}, req: []string{"Cache-Control", "max-stale"}, between: time.Hour, stored: true, rule: "5.2.1.2"},
		{name: "request max-stale exceeded", status: 200, resp: []string{"Cache-Control", "max-age=10"}, req: []string{"Cache-Control", "max-stale=5"}, between: 20 * time.Second, rule: "5.2.1.2"},
		{name: "request max-stale against must-revalidate", status: 200, resp: []string{"Cache-Control", "max-age=10, must-revalidate"}, req: []string{"Cache-Control", "max-stale=60"}, between: 20 * time.Second, rule: "5.2.2.2"},
		{name: "heuristic freshness", status: 200, resp: []string{"Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Last-Modified", "Sun, 31 Dec 2023 00:00:00 GMT"}, opts: []cache.Option{cache.WithHeuristicFreshness(time.Hour)}, between: 59 * time.Minute, stored: true, rule: "4.2.2"},
		{name: "heuristic freshness capped", status: 200, resp: []string{"Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Last-Modified", "Sun, 31 Dec 2023 00:00:00 GMT"}, opts: []cache.Option{cache.WithHeuristicFreshness(time.Hour)}, between: 61 * time.Minute, rule: "4.2.2"},
		{name: "HEAD", status: 200, resp: []string{"Cache-Control", "max-age=60"}, method: "HEAD", stored: true, rule: "4 (HEAD from GET)"},
		{name: "POST passes", status: 200, resp: []string{"Cache-Control", "max-age=60"}, method: "POST", rule: "4.4"},
		{name: "body over the cap", status: 200, resp: []string{"Cache-Control", "max-age=60"}, opts: []cache.Option{cache.WithMaxBodyBytes(4)}, rule: "(size cap)"},
		{name: "upgrade passes", status: 200, resp: []string{"Cache-Control", "max-age=60"}, req: []string{"Connection", "Upgrade", "Upgrade", "websocket"}, rule: "(no upgrades)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOrigin(tc.status, tc.resp...)
				rc := newResponseCache(t, append([]cache.Option{cache.WithJitter(0)}, tc.opts...)...)
				h := rc.Middleware(o)
				method := tc.method
				if method == "" {
					method = "GET"
				}
				first := do(h, method, "/items/1?x=1", tc.req...)
				if first.Code != tc.status || (method != "HEAD" && first.Body.String() != "payload#1") {
					t.Fatalf("first response %d %q", first.Code, first.Body.String())
				}
				time.Sleep(tc.between)
				second := do(h, method, "/items/1?x=1", tc.req...)
				if stored := o.n() == 1; stored != tc.stored {
					t.Fatalf("RFC 9111 %s: served from the cache = %v, want %v (%d handler calls)", tc.rule, stored, tc.stored, o.n())
				}
				if _, hasAge := second.Header()["Age"]; tc.stored && !hasAge {
					t.Error("no Age on a response served from the cache")
				}
				if tc.stored && method == "GET" && second.Body.String() != "payload#1" {
					t.Errorf("second body %q, want the first response", second.Body.String())
				}
				if method == "HEAD" && (second.Body.Len() != 0 || second.Header().Get("Content-Length") != "9") {
					t.Errorf("HEAD answered with body %q, Content-Length %q", second.Body.String(), second.Header().Get("Content-Length"))
				}
			})
		})
	}
}

func TestHTTPAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOrigin(200, "Cache-Control", "max-age=100", "Age", "3")
		h := newResponseCache(t).Middleware(o)
		for _, step := range []struct {
			after time.Duration
			age   string
		}{{0, "3"}, {1500 * time.Millisecond, "4"}, {10 * time.Second, "14"}} {
			time.Sleep(step.after)
			if got := do(h, "GET", "/a").Header().Get("Age"); got != step.age {
				t.Fatalf("Age %q after %v, want %q", got, step.after, step.age)
			}
		}
	})
}

func TestHTTPNotModified(t *testing.T) {
	tests := []struct {
		name        string
		etag        string // the handler's, "" for none
		opts        []cache.Option
		ifNoneMatch func(etag string) string
		want        int
	}{
		{"computed ETag matches", "", nil, func(e string) string { return e }, 304},
		{"handler ETag matches", `"v1"`, nil, func(string) string { return `"v1"` }, 304},
		{"weak comparison", `W/"v1"`, nil, func(string) string { return `"v1"` }, 304},
		{"one of a list", `"v2"`, nil, func(string) string { return `"v1", W/"v2"` }, 304},
		{"star", `"v1"`, nil, func(string) string { return "*" }, 304},
		{"no match", `"v1"`, nil, func(string) string { return `"v2"` }, 200},
		{"comma inside a tag", `"a,b"`, nil, func(string) string { return `"a,b"` }, 304},
		{"no ETag without WithETag", "", []cache.Option{cache.WithETag(false)}, func(string) string { return `"x"` }, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := newOrigin(200, "Cache-Control", "max-age=60", "Content-Type", "application/json")
				if tc.etag != "" {
					o.header.Set("ETag", tc.etag)
				}
				h := newResponseCache(t, tc.opts...).Middleware(o)
				first := do(h, "GET", "/a")
				etag := first.Header().Get("ETag")
				if tc.etag == "" && tc.opts == nil && (len(etag) < 3 || etag[0] != '"') {
					t.Fatalf("no strong ETag computed: %q", etag)
				}
				w := do(h, "GET", "/a", "If-None-Match", tc.ifNoneMatch(etag))
				if w.Code != tc.want {
					t.Fatalf("status %d, want %d", w.Code, tc.want)
				}
				if tc.want == 304 {
					if w.Body.Len() != 0 || w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") != "max-age=60" || w.Header().Get("Age") == "" {
						t.Errorf("304 with body %q and header %v", w.Body.String(), w.Header())
					}
					if w.Header().Get("Content-Type") != "" || w.Header().Get("Content-Length") != "" {
						t.Errorf("304 carries representation fields: %v", w.Header())
					}
				}
				if o.n() != 1 {
					t.Fatalf("%d handler calls, want 1", o.n())
				}
			})
		})
	}
}

func TestHTTPConditionalMissIsAnsweredByTheCache(t *testing.T) {
	o := newOrigin(200, "Cache-Control", "max-age=60", "ETag", `"v1"`)
	h := newResponseCache(t).Middleware(o)
	w := do(h, "GET", "/a", "If-None-Match", `"v1"`)
	if w.Code != 304 {
		t.Fatalf("status %d, want 304", w.Code)
	}
	if inm := o.seen[0].Header.Get("If-None-Match"); inm != "" {
		t.Fatalf("the handler saw If-None-Match %q: it could answer 304 into the cache", inm)
	}
	if w := do(h, "GET", "/a"); w.Code != 200 || w.Body.String() != "payload#1" {
		t.Fatalf("a plain GET got %d %q", w.Code, w.Body.String())
	}
}
