package cache

import (
	"strings"
	"testing"
	"time"
)

// These tests are internal: the Cache-Control and If-None-Match parsers
// read outside input and are not exported.

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  directives
	}{
		{"empty", nil, directives{minFresh: -1, maxStale: -1, maxAge: -1, sMaxAge: -1, swr: -1, sie: -1}},
		{"typical", []string{"public, max-age=60, stale-while-revalidate=30"},
			directives{minFresh: -1, maxStale: -1, maxAge: time.Minute, sMaxAge: -1, swr: 30 * time.Second, sie: -1, public: true}},
		{"case and spaces", []string{" Max-Age = 5 ,\tNO-STORE"}, directives{minFresh: -1, maxStale: -1, maxAge: 5 * time.Second, sMaxAge: -1, swr: -1, sie: -1, noStore: true}},
		{"several lines", []string{"private", "s-maxage=10", "stale-if-error=1"},
			directives{minFresh: -1, maxStale: -1, maxAge: -1, sMaxAge: 10 * time.Second, swr: -1, sie: time.Second, private: true}},
		{"quoted value", []string{`max-age="7"`}, directives{minFresh: -1, maxStale: -1, maxAge: 7 * time.Second, sMaxAge: -1, swr: -1, sie: -1}},
		{"comma in a quoted list", []string{`no-cache="Set-Cookie, X-A", max-age=3`},
			directives{minFresh: -1, maxStale: -1, maxAge: 3 * time.Second, sMaxAge: -1, swr: -1, sie: -1, noCache: true}},
		{"first occurrence wins", []string{"max-age=1, max-age=9"}, directives{minFresh: -1, maxStale: -1, maxAge: time.Second, sMaxAge: -1, swr: -1, sie: -1}},
		{"invalid is stale", []string{"max-age=-1"}, directives{minFresh: -1, maxStale: -1, maxAge: 0, sMaxAge: -1, swr: -1, sie: -1}},
		{"missing value", []string{"max-age"}, directives{minFresh: -1, maxStale: -1, maxAge: 0, sMaxAge: -1, swr: -1, sie: -1}},
		{"overflow caps at 2^31", []string{"max-age=99999999999999999999999"}, directives{minFresh: -1, maxStale: -1, maxAge: maxDelta * time.Second, sMaxAge: -1, swr: -1, sie: -1}},
		{"must-revalidate", []string{"must-revalidate"}, directives{minFresh: -1, maxStale: -1, maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, mustRevalidate: true}},
		{"proxy-revalidate", []string{"proxy-revalidate"}, directives{minFresh: -1, maxStale: -1, maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, proxyRevalidate: true}},
		{"unknown ignored", []string{"immutable, x-ext=\"a,b\", max-age=2"}, directives{minFresh: -1, maxStale: -1, maxAge: 2 * time.Second, sMaxAge: -1, swr: -1, sie: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseCacheControl(tc.lines); got != tc.want {
				t.Fatalf("parseCacheControl(%q)\n got %+v\nwant %+v", tc.lines, got, tc.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { parseCacheControl([]string{`public, max-age=60, no-cache="a,b"`}) }); n != 0 {
		t.Fatalf("parseCacheControl allocates %v times", n)
	}
}

// referenceParse is a plain split-based parser, right for input without
// quotes.
func referenceParse(lines []string) directives {
	d := directives{minFresh: -1, maxStale: -1, maxAge: -1, sMaxAge: -1, swr: -1, sie: -1}
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(part, "=")
			name, value = strings.ToLower(trimOWS(name)), trimOWS(value)
			switch name {
			case "max-age":
				setDelta(&d.maxAge, value)
			case "s-maxage":
				setDelta(&d.sMaxAge, value)
			case "stale-while-revalidate":
				setDelta(&d.swr, value)
			case "stale-if-error":
				setDelta(&d.sie, value)
			case "no-store":
				d.noStore = true
			case "no-cache":
				d.noCache = true
			case "private":
				d.private = true
			case "public":
				d.public = true
			case "must-revalidate":
				d.mustRevalidate = true
			case "proxy-revalidate":
				d.proxyRevalidate = true
			}
		}
	}
	return d
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{
		"", "max-age=60", "public, max-age=60, stale-while-revalidate=30", `no-cache="Set-Cookie, X"`,
		"s-maxage=1,max-age=2", `max-age="5"`, "max-age=99999999999999999999", "private, no-store",
		`x="unterminated`, "=,=,", "max-age=\t3 ", `a="\"", max-age=4`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseCacheControl([]string{s})
		for _, d := range []time.Duration{got.maxAge, got.sMaxAge, got.swr, got.sie} {
			if d != -1 && (d < 0 || d > maxDelta*time.Second) {
				t.Fatalf("%q: duration %v out of range", s, d)
			}
		}
		if !strings.Contains(s, `"`) {
			if want := referenceParse([]string{s}); got != want {
				t.Fatalf("%q:\n got %+v\nwant %+v (reference)", s, got, want)
			}
		}
		if other := parseCacheControl([]string{asciiUpper(s)}); other != got && !strings.Contains(s, `"`) {
			t.Fatalf("%q: case changes the result: %+v vs %+v", s, got, other)
		}
		if other := parseCacheControl([]string{"x-ext, " + s}); other != got {
			t.Fatalf("%q: an unknown directive in front changes the result: %+v vs %+v", s, got, other)
		}
		if other := parseCacheControl([]string{"x-ext", s}); other != got {
			t.Fatalf("%q: a line in front changes the result: %+v vs %+v", s, got, other)
		}
	})
}

func FuzzIfNoneMatch(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, "*", `"a,b"`, `junk, "x"`, `"unterminated`, ""} {
		f.Add(s, "v1")
	}
	f.Fuzz(func(t *testing.T, field, opaque string) {
		if strings.ContainsAny(opaque, "\"\x00") {
			return
		}
		etag := `"` + opaque + `"`
		noneMatch([]string{field}, etag) // must not panic
		if !noneMatch([]string{etag}, etag) || !noneMatch([]string{"W/" + etag}, etag) || !noneMatch([]string{etag}, "W/"+etag) {
			t.Fatalf("%s does not match itself", etag)
		}
		if !noneMatch([]string{field, etag}, etag) {
			t.Fatalf("%s not found after the line %q", etag, field)
		}
	})
}
