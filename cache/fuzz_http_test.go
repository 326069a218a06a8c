package cache_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/paved-go/paved/cache"
)

// FuzzResponseCache drives the middleware with arbitrary response fields
// and request fields: it must never panic, never send a stored response
// for a request with no-cache without asking the handler, and never
// send a body for a 304 or a HEAD.
func FuzzResponseCache(f *testing.F) {
	f.Add(200, "max-age=60", "", "", "", `"x"`, "", "no-cache")
	f.Add(304, "no-cache", "0", "7200, 0", "accept-language", `W/"x"`, "max-age=5", "max-stale")
	f.Add(500, "s-maxage=0, stale-if-error=9", "Thu, 01 Dec 2050 16:00:00 GMT", "x", "*", "", "no-store;;", "min-fresh=3")
	f.Fuzz(func(t *testing.T, status int, cc, expires, age, vary, etag, cdn, reqCC string) {
		if status < 200 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		calls := 0
		rc, err := cache.NewResponseCache("fuzz", cache.WithStaleIfError(1<<40), cache.WithHeuristicFreshness(1<<40))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			for k, v := range map[string]string{"Cache-Control": cc, "Expires": expires, "Age": age, "Vary": vary, "ETag": etag, "CDN-Cache-Control": cdn} {
				if v != "" && validValue(v) {
					w.Header().Set(k, v)
				}
			}
			if r.Header.Get("If-None-Match") != "" && status == 304 {
				w.WriteHeader(304)
				return
			}
			if status == 304 {
				w.WriteHeader(200)
			} else {
				w.WriteHeader(status)
			}
			io.WriteString(w, "body"+strconv.Itoa(calls))
		}))
		for i, method := range []string{"GET", "GET", "HEAD", "POST", "GET"} {
			var kv []string
			if i == 1 && validValue(reqCC) {
				kv = []string{"Cache-Control", reqCC}
			}
			before := calls
			w := do(h, method, "/f", kv...)
			if (w.Code == 304 || method == "HEAD") && w.Body.Len() != 0 {
				t.Fatalf("%s answered %d with a body", method, w.Code)
			}
			if len(kv) > 0 && hasDirective(reqCC, "no-cache") && !hasDirective(reqCC, "only-if-cached") && calls == before {
				t.Fatalf("request Cache-Control %q answered without the handler", reqCC)
			}
		}
	})
}

func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// hasDirective reports whether a Cache-Control value without quotes
// holds the bare directive name.
func hasDirective(v, name string) bool {
	if strings.Contains(v, `"`) {
		return false
	}
	for d := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.Trim(d, " \t"), name) {
			return true
		}
	}
	return false
}
