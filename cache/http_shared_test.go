package cache_test

// Acceptance tables for the shared cache as a reverse-proxy cache would
// be tested from outside: each case runs against the origin handler
// itself and through an httputil.ReverseProxy (see behind), and names
// the rule it checks. Staleness comes from the origin's Age and Date, so
// no case waits.

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/cache"
)

// sharedLM is a Last-Modified date the origin scripts send.
const sharedLM = "Mon, 01 Jan 2024 00:00:00 GMT"

// httpDate formats now plus d as an IMF-fixdate.
func httpDate(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }

// TestSharedRFC9111Section3 checks which final statuses are stored, and which fields (3.1).
func TestSharedRFC9111Section3(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "299 with max-age stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 299, "v", "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{status: 299, calls: 1}, {status: 299, calls: 1}}},
		{name: "302 without freshness not stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 302, "", "Location", "/x")
		}, steps: []rfcStep{{status: 302, calls: 1}, {status: 302, calls: 2}}},
		{name: "302 with max-age stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 302, "", "Location", "/x", "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{status: 302, calls: 1}, {status: 302, calls: 1}}},
		{name: "500 with max-age stored", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 500, "e", "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{status: 500, calls: 1}, {status: 500, calls: 1}}},
		{name: "Connection-named not stored", script: versioned("Cache-Control", "max-age=60", "Connection", "X-Foo", "X-Foo", "bar", "X-Keep", "1"),
			steps: []rfcStep{{calls: 1, lacks: []string{"X-Foo"}}, {calls: 1, lacks: []string{"X-Foo"}, has: []string{"X-Keep: 1"}}}},
	})
}

// TestSharedRFC9111Section3_5 checks responses to requests with Authorization.
func TestSharedRFC9111Section3_5(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "Authorization not stored", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 2}}},
		{name: "Authorization public", script: versioned("Cache-Control", "max-age=60, public"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 1}}},
		{name: "Authorization s-maxage", script: versioned("Cache-Control", "s-maxage=60"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 1}}},
		{name: "Authorization must-revalidate", script: versioned("Cache-Control", "max-age=60, must-revalidate"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 1}}},
		{name: "Authorization proxy-revalidate only", script: versioned("Cache-Control", "max-age=60, proxy-revalidate"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 2}}},
		{name: "Authorization CDN-Cache-Control public", script: versioned("CDN-Cache-Control", "max-age=60, public"),
			steps: []rfcStep{{req: []string{"Authorization", "x"}, calls: 1}, {req: []string{"Authorization", "x"}, calls: 1}}},
	})
}

// TestSharedRFC9111Section4_1 checks Vary.
func TestSharedRFC9111Section4_1(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "Vary star", script: versioned("Cache-Control", "max-age=60", "Vary", "*"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Vary star in list", script: versioned("Cache-Control", "max-age=60", "Vary", "Foo, *"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Vary changes to none", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				reply(w, 200, "v1", "Cache-Control", "max-age=0", "ETag", `"a"`, "Vary", "Foo")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{req: []string{"Foo", "1"}, body: "v1", calls: 1}, {req: []string{"Foo", "1"}, body: "v2", calls: 2}, {req: []string{"Foo", "2"}, body: "v2", calls: 2}}},
		{name: "Vary on two lines of the request field", script: versioned("Cache-Control", "max-age=60", "Vary", "Foo"),
			steps: []rfcStep{{req: []string{"Foo", "a", "Foo", "b"}, calls: 1}, {req: []string{"Foo", "a", "Foo", "b"}, calls: 1}, {req: []string{"Foo", "a"}, calls: 2}}},
	})
}

// TestSharedRFC9111Section4_2_1 checks explicit freshness: s-maxage, max-age, Expires and how they parse.
func TestSharedRFC9111Section4_2_1(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "s-maxage over max-age=0", script: versioned("Cache-Control", "max-age=0, s-maxage=60"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "max-age=0 no validator", script: versioned("Cache-Control", "max-age=0"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Expires future", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Date", httpDate(0), "Expires", httpDate(time.Hour))
		}, steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "max-age wins over past Expires", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Date", httpDate(0), "Expires", httpDate(-time.Hour), "Cache-Control", "max-age=3600")
		}, steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "Expires - Date, Date two hours old", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Date", httpDate(-2*time.Hour), "Expires", httpDate(-time.Hour))
		}, steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CC case-insensitive", script: versioned("Cache-Control", "MAX-AGE=60"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "quoted max-age", script: versioned("Cache-Control", `max-age="60"`),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "CC over two lines", script: versioned("Cache-Control", "max-age=60", "Cache-Control", "private"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Expires two lines", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), "Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		}, steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Expires rfc850", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Expires", time.Now().Add(time.Hour).UTC().Format("Monday, 02-Jan-06 15:04:05 GMT"))
		}, steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "Expires asctime", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Expires", time.Now().Add(time.Hour).UTC().Format(time.ANSIC))
		}, steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "Expires lowercase gmt invalid", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Expires", strings.Replace(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), "GMT", "UTC", 1))
		}, steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "max-age duplicate first", script: versioned("Cache-Control", "max-age=3600, max-age=0"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "max-age=-1 stale", script: versioned("Cache-Control", "max-age=-1"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "max-age huge", script: versioned("Cache-Control", "max-age=99999999999"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "public no freshness no validator", script: versioned("Cache-Control", "public"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
	})
}

// TestSharedRFC9111Section4_2_2 checks heuristic freshness only with the option.
func TestSharedRFC9111Section4_2_2(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "no heuristic by default", script: versioned("Last-Modified", "Mon, 01 Jan 2001 00:00:00 GMT"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "heuristic with option", opts: []cache.Option{cache.WithHeuristicFreshness(time.Hour)},
			script: versioned("Last-Modified", "Mon, 01 Jan 2001 00:00:00 GMT"),
			steps:  []rfcStep{{calls: 1}, {calls: 1}}},
	})
}

// TestSharedRFC9111Section4_2_3 checks age calculation from Date and Age.
func TestSharedRFC9111Section4_2_3(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "Date old: apparent age", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "Date", httpDate(-2*time.Hour), "Cache-Control", "max-age=3600")
		}, steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Age over max-age", script: versioned("Cache-Control", "max-age=3600", "Age", "7200"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Age under max-age, hit Age counts it", script: versioned("Cache-Control", "max-age=3600", "Age", "1800"),
			steps: []rfcStep{{calls: 1}, {calls: 1, has: []string{"Age: 18*"}}}},
		{name: "Age list first", script: versioned("Cache-Control", "max-age=3600", "Age", "7200, 0"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Age two lines first", script: versioned("Cache-Control", "max-age=3600", "Age", "7200", "Age", "0"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "Age invalid ignored", script: versioned("Cache-Control", "max-age=3600", "Age", "-7200"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "Age float ignored", script: versioned("Cache-Control", "max-age=3600", "Age", "7200.0"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "forwarded not stored: no Age", script: versioned("Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1, lacks: []string{"Age"}}}},
	})
}

// TestSharedRFC9111Section4_2_4 checks when a stale response may be served.
func TestSharedRFC9111Section4_2_4(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "must-revalidate not stale on error", opts: []cache.Option{cache.WithStaleIfError(time.Hour)},
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					reply(w, 500, "err")
					return
				}
				reply(w, 200, "v1", "Cache-Control", "max-age=0, must-revalidate", "ETag", `"x"`)
			}, steps: []rfcStep{{calls: 1}, {status: 500, calls: 2}}},
		{name: "stale-if-error response directive", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if n > 1 {
				reply(w, 500, "err")
				return
			}
			reply(w, 200, "v1", "Cache-Control", "max-age=0, stale-if-error=60", "ETag", `"x"`)
		}, steps: []rfcStep{{calls: 1}, {body: "v1", calls: 2}}},
		{name: "s-maxage=0 not served stale under swr", opts: []cache.Option{cache.WithStaleWhileRevalidate(time.Hour)},
			script: versioned("Cache-Control", "s-maxage=1", "Age", "30", "ETag", `"x"`),
			steps:  []rfcStep{{body: "v1", calls: 1}, {body: "v2", calls: 2}}},
		{name: "proxy-revalidate not stale on error", opts: []cache.Option{cache.WithStaleIfError(time.Hour)},
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					reply(w, 503, "err")
					return
				}
				reply(w, 200, "v1", "Cache-Control", "max-age=0, proxy-revalidate", "ETag", `"x"`)
			}, steps: []rfcStep{{calls: 1}, {status: 503, calls: 2}}},
		{name: "no-cache not stale on error", opts: []cache.Option{cache.WithStaleIfError(time.Hour)},
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					reply(w, 502, "err")
					return
				}
				reply(w, 200, "v1", "Cache-Control", "max-age=600, no-cache", "ETag", `"x"`)
			}, steps: []rfcStep{{calls: 1}, {status: 502, calls: 2}}},
		{name: "stale-if-error option serves stale", opts: []cache.Option{cache.WithStaleIfError(time.Hour)},
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				if n > 1 {
					reply(w, 500, "err")
					return
				}
				reply(w, 200, "v1", "Cache-Control", "max-age=0", "ETag", `"x"`)
			}, steps: []rfcStep{{calls: 1}, {body: "v1", calls: 2}}},
	})
}

// TestSharedRFC9111Section4_3 checks validation and 304 updates.
func TestSharedRFC9111Section4_3(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "304 updates and Content-Length kept", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"x"` {
				reply(w, 304, "", "ETag", `"x"`, "Cache-Control", "max-age=60", "X-Foo", "2", "Content-Type", "text/y")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "ETag", `"x"`, "X-Foo", "1", "Content-Type", "text/x")
		}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2, has: []string{"X-Foo: 2"}}, {body: "v1", calls: 2, has: []string{"X-Foo: 2", "Content-Length: 2"}}}},
		{name: "Last-Modified validator sent", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-Modified-Since") == sharedLM {
				reply(w, 304, "", "Cache-Control", "max-age=60")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "Last-Modified", sharedLM)
		}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2}, {body: "v1", calls: 2}}},
		{name: "INM * from store", script: versioned("Cache-Control", "max-age=60", "ETag", `"x"`),
			steps: []rfcStep{{calls: 1}, {req: []string{"If-None-Match", "*"}, status: 304, calls: 1}, {req: []string{"If-None-Match", `"a", W/"x"`}, status: 304, calls: 1}}},
		{name: "with no-store", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"x"` {
				reply(w, 304, "", "ETag", `"x"`, "Cache-Control", "no-store")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "ETag", `"x"`)
		}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2}, {calls: 3}}},
		{name: "to max-age=60 then hit", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"x"` {
				reply(w, 304, "", "ETag", `"x"`, "Cache-Control", "max-age=60")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=0", "ETag", `"x"`)
		}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2}, {body: "v1", calls: 2}}},
		{name: "no-cache qualified revalidates", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") == `"x"` {
				reply(w, 304, "", "ETag", `"x"`)
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", `max-age=60, no-cache="Set-Cookie"`, "ETag", `"x"`)
		}, steps: []rfcStep{{body: "v1", calls: 1}, {body: "v1", calls: 2}}},
	})
}

// TestSharedRFC9111Section4_4 checks invalidation.
func TestSharedRFC9111Section4_4(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "302 invalidates", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				reply(w, 302, "", "Location", "/x")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{body: "v1", calls: 1}, {method: "POST", status: 302, calls: 2}, {body: "v3", calls: 3}}},
		{name: "absolute same-origin Location", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				reply(w, 200, "", "Location", "http://example.com/b")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{target: "/b", body: "v1", calls: 1}, {method: "PUT", target: "/a", calls: 2}, {target: "/b", body: "v3", calls: 3}}},
		{name: "other-origin Content-Location", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				reply(w, 200, "", "Content-Location", "https://example.com/b")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{target: "/b", body: "v1", calls: 1}, {method: "PUT", target: "/a", calls: 2}, {target: "/b", body: "v1", calls: 2}}},
		{name: "error does not invalidate", script: func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Method == "DELETE" {
				reply(w, 404, "")
				return
			}
			reply(w, 200, "v"+strconv.Itoa(n), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{body: "v1", calls: 1}, {method: "DELETE", status: 404, calls: 2}, {body: "v1", calls: 2}}},
		{name: "lowercase get is unsafe", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{body: "v1", calls: 1}, {method: "get", calls: 2}, {body: "v3", calls: 3}}},
	})
}

// TestSharedRFC9111Section5_2_1 checks request directives.
func TestSharedRFC9111Section5_2_1(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "Pragma NO-CACHE", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {req: []string{"Pragma", "foo, No-Cache"}, calls: 2}, {req: []string{"Pragma", "no-cache", "Cache-Control", "max-age=60"}, calls: 2}}},
		{name: "only-if-cached miss", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{req: []string{"Cache-Control", "only-if-cached"}, status: 504, calls: 0}, {calls: 1}, {req: []string{"Cache-Control", "only-if-cached"}, calls: 1}}},
		{name: "only-if-cached stale", script: versioned("Cache-Control", "max-age=1", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{calls: 1}, {req: []string{"Cache-Control", "only-if-cached"}, status: 504, calls: 1}}},
		{name: "min-fresh", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {req: []string{"Cache-Control", "min-fresh=30"}, calls: 1}, {req: []string{"Cache-Control", "min-fresh=120"}, calls: 2}}},
		{name: "request max-age=0", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {req: []string{"Cache-Control", "max-age=0"}, calls: 2}}},
		{name: "max-stale", script: versioned("Cache-Control", "max-age=1", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{body: "v1", calls: 1}, {req: []string{"Cache-Control", "max-stale=3600"}, body: "v1", calls: 1}, {req: []string{"Cache-Control", "max-stale"}, body: "v1", calls: 1}}},
		{name: "max-stale not with must-revalidate", script: versioned("Cache-Control", "max-age=1, must-revalidate", "Age", "30", "ETag", `"x"`),
			steps: []rfcStep{{body: "v1", calls: 1}, {req: []string{"Cache-Control", "max-stale=3600"}, body: "v2", calls: 2}}},
		{name: "If-Match passes through", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "im="+r.Header.Get("If-Match"), "Cache-Control", "max-age=60")
		}, steps: []rfcStep{{body: "im=", calls: 1}, {req: []string{"If-Match", `"a"`}, body: `im="a"`, calls: 2}}},
	})
}

// TestSharedRFC9111Section5_2_2 checks response directives.
func TestSharedRFC9111Section5_2_2(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "private not stored", script: versioned("Cache-Control", "private, max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "no-store not stored", script: versioned("Cache-Control", "no-store, max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "no-cache without validator", script: versioned("Cache-Control", "no-cache, max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "must-understand no-store 200", script: versioned("Cache-Control", "must-understand, no-store, max-age=60"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "must-understand no-store 299", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 299, "v", "Cache-Control", "must-understand, no-store, max-age=60")
		}, steps: []rfcStep{{status: 299, calls: 1}, {status: 299, calls: 2}}},
	})
}

// TestSharedRFC9110Section9_3 checks HEAD answered from GET.
func TestSharedRFC9110Section9_3(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "HEAD from GET", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{calls: 1}, {method: "HEAD", calls: 1}}},
		{name: "HEAD first then GET", script: versioned("Cache-Control", "max-age=60"),
			steps: []rfcStep{{method: "HEAD", calls: 1}, {body: "v1", calls: 1}}},
	})
}

// TestSharedRFC9213 checks CDN-Cache-Control precedence and Structured Field parsing.
func TestSharedRFC9213(t *testing.T) {
	runRFC(t, []rfcCase{
		{name: "CDN-CC max-age=0 with future Expires", script: func(n int, w http.ResponseWriter, r *http.Request) {
			reply(w, 200, "v", "CDN-Cache-Control", "max-age=0", "Date", httpDate(0), "Expires", httpDate(time.Hour))
		}, steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC private", script: versioned("CDN-Cache-Control", "private", "Cache-Control", "max-age=600"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC no-cache", script: versioned("CDN-Cache-Control", "no-cache", "Cache-Control", "max-age=600"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC short beats long CC", script: versioned("CDN-Cache-Control", "max-age=1", "Cache-Control", "max-age=600", "Age", "5"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC garbage member", script: versioned("CDN-Cache-Control", "max-age=10000, &&&&&", "Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC space before =", script: versioned("CDN-Cache-Control", "max-age =100", "Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC space after =", script: versioned("CDN-Cache-Control", "max-age= 100", "Cache-Control", "no-store"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC huge max-age", script: versioned("CDN-Cache-Control", "max-age=99999999999"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "CDN-CC extension", script: versioned("CDN-Cache-Control", "foobar, max-age=3600"),
			steps: []rfcStep{{calls: 1}, {calls: 1}}},
		{name: "CDN-CC with Age", script: versioned("CDN-Cache-Control", "max-age=3600", "Age", "7200"),
			steps: []rfcStep{{calls: 1}, {calls: 2}}},
		{name: "CDN-CC forwarded by default", script: versioned("CDN-Cache-Control", "foo", "Cache-Control", "max-age=600"),
			steps: []rfcStep{{calls: 1, has: []string{"Cdn-Cache-Control: foo"}}}},
	})
}
