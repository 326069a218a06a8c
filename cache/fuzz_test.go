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
			case "min-fresh":
				setDelta(&d.minFresh, value)
			case "max-stale":
				if value == "" && d.maxStale < 0 {
					value = "2147483648"
				}
				setDelta(&d.maxStale, value)
			case "only-if-cached":
				d.onlyIfCached = true
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

func TestParseTargeted(t *testing.T) {
	none := directives{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, minFresh: -1, maxStale: -1}
	with := func(f func(*directives)) directives {
		d := none
		f(&d)
		return d
	}
	tests := []struct {
		name  string
		lines []string
		want  directives
		ok    bool
	}{
		{"max-age", []string{"max-age=60"}, with(func(d *directives) { d.maxAge = time.Minute }), true},
		{"flags and parameters", []string{"no-store, private;x=1, public=?0"}, with(func(d *directives) { d.noStore, d.private = true, true }), true},
		{"last duplicate wins", []string{"max-age=1, max-age=9"}, with(func(d *directives) { d.maxAge = 9 * time.Second }), true},
		{"lines joined", []string{"max-age=1", "s-maxage=2"}, with(func(d *directives) { d.maxAge, d.sMaxAge = time.Second, 2*time.Second }), true},
		{"string value ignored", []string{`max-age="60", no-cache`}, with(func(d *directives) { d.noCache = true }), true},
		{"negative ignored", []string{"max-age=-5"}, none, true},
		{"decimal ignored", []string{"max-age=5.5"}, none, true},
		{"inner list", []string{`no-cache=("a" "b");p, max-age=3`}, with(func(d *directives) { d.noCache, d.maxAge = true, 3*time.Second }), true},
		{"all item types", []string{`a=tok/x:y, b=:aGk=:, c=?1, d=@1700000000, e=%"caf%c3%a9", f="q\"x"`}, none, true},
		{"uppercase key", []string{"Max-Age=60"}, none, false},
		{"Cache-Control syntax", []string{"max-age=60;;"}, none, false},
		{"trailing comma", []string{"max-age=60,"}, none, false},
		{"empty", []string{""}, none, false},
		{"16-digit integer", []string{"max-age=1234567890123456"}, none, false},
		{"unterminated string", []string{`a="x`}, none, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTargeted(tc.lines)
			if ok != tc.ok || ok && got != tc.want {
				t.Fatalf("parseTargeted(%q) = %+v, %v; want %+v, %v", tc.lines, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzTargeted checks the Structured Field Dictionary parser of targeted
// fields: no panic, durations in range, and members that parse alone
// parse together.
func FuzzTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "no-store, private;x=1", `no-cache=("a" "b")`, "max-age=60;;", `e=%"caf%c3%a9"`, "a=:aGk=:", "x=@1", "s-maxage=1.5"} {
		f.Add(s, "public")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, oka := parseTargeted([]string{a})
		for _, d := range []time.Duration{da.maxAge, da.sMaxAge, da.swr, da.sie} {
			if d != -1 && (d < 0 || d > maxDelta*time.Second) {
				t.Fatalf("%q: duration %v out of range", a, d)
			}
		}
		_, okb := parseTargeted([]string{b})
		if oka && okb && !strings.ContainsAny(a+b, "\r\n") {
			if _, ok := parseTargeted([]string{a, b}); !ok {
				t.Fatalf("%q and %q parse alone but not together", a, b)
			}
		}
	})
}

func FuzzAge(f *testing.F) {
	for _, s := range []string{"0", "7200, 0", "soon", " 5 ", "99999999999999999999", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		age, ok := parseAge([]string{s, "0"})
		if !ok {
			if age != 0 {
				t.Fatalf("%q: invalid but %v", s, age)
			}
			return
		}
		if age < 0 || age > maxDelta*time.Second {
			t.Fatalf("%q: age %v out of range", s, age)
		}
		first, _, _ := strings.Cut(s, ",")
		if again, ok2 := parseAge([]string{first}); !ok2 || again != age {
			t.Fatalf("%q: the first member alone reads %v, %v, the list %v", s, again, ok2, age)
		}
	})
}

func FuzzPragma(f *testing.F) {
	for _, s := range []string{"no-cache", "NO-CACHE", "x, no-cache", "no-cache=1", `x="no-cache"`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := pragmaNoCache([]string{s})
		if got != pragmaNoCache([]string{asciiUpper(s)}) && !strings.Contains(s, `"`) {
			t.Fatalf("%q: case changes the result", s)
		}
		if !pragmaNoCache([]string{s, "no-cache"}) || !pragmaNoCache([]string{s + ", no-cache"}) && !strings.Contains(s, `"`) {
			t.Fatalf("%q hides a following no-cache", s)
		}
		if got && !strings.Contains(strings.ToLower(s), "no-cache") {
			t.Fatalf("%q read as no-cache", s)
		}
	})
}
