package cache

import (
	"strings"
	"time"
)

// directives are the Cache-Control directives (RFC 9111 section 5.2) this
// package acts on, from a request or a response. Durations are -1 when
// absent.
type directives struct {
	maxAge, sMaxAge, swr, sie time.Duration
	minFresh, maxStale        time.Duration // request only

	noStore, noCache, private, public, mustRevalidate bool
	onlyIfCached                                      bool // request only
	mustUnderstand                                    bool

	// proxyRevalidate is must-revalidate for a shared cache, except that
	// it does not let a response to a request with Authorization be
	// stored (RFC 9111 section 3.5 names only must-revalidate).
	proxyRevalidate bool
}

// maxDelta is the largest delta-seconds value: RFC 9111 section 1.2.2
// asks a cache to read larger ones, and ones that overflow, as 2^31.
const maxDelta = 1 << 31

// parseCacheControl parses the Cache-Control field lines of a request or
// response without allocating. Directive names are case-insensitive;
// unknown directives are ignored. When a directive appears more than once
// the first occurrence counts. A duration directive with a value that is
// not delta-seconds (including a negative or missing one) reads as 0,
// which makes a response stale at once, as section 4.2.1 recommends for
// invalid freshness information. no-cache and private with a list of
// field names ("private=\"Set-Cookie\"") count as unqualified: this cache
// never stores a response without some of its fields.
func parseCacheControl(lines []string) directives {
	d := directives{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, minFresh: -1, maxStale: -1}
	for _, line := range lines {
		for line != "" {
			var name, value string
			name, value, line = nextDirective(line)
			switch {
			case strings.EqualFold(name, "max-age"):
				setDelta(&d.maxAge, value)
			case strings.EqualFold(name, "s-maxage"):
				setDelta(&d.sMaxAge, value)
			case strings.EqualFold(name, "stale-while-revalidate"):
				setDelta(&d.swr, value)
			case strings.EqualFold(name, "stale-if-error"):
				setDelta(&d.sie, value)
			case strings.EqualFold(name, "no-store"):
				d.noStore = true
			case strings.EqualFold(name, "no-cache"):
				d.noCache = true
			case strings.EqualFold(name, "private"):
				d.private = true
			case strings.EqualFold(name, "public"):
				d.public = true
			case strings.EqualFold(name, "must-revalidate"):
				d.mustRevalidate = true
			case strings.EqualFold(name, "proxy-revalidate"):
				d.proxyRevalidate = true
			case strings.EqualFold(name, "min-fresh"):
				setDelta(&d.minFresh, value)
			case strings.EqualFold(name, "max-stale"):
				if value == "" && d.maxStale < 0 {
					value = "2147483648" // no limit (RFC 9111 section 5.2.1.2)
				}
				setDelta(&d.maxStale, value)
			case strings.EqualFold(name, "must-understand"):
				d.mustUnderstand = true
			case strings.EqualFold(name, "only-if-cached"):
				d.onlyIfCached = true
			}
		}
	}
	return d
}

// nextDirective splits the first directive off a Cache-Control line:
// its name, its value (unquoted, or "" when it has none) and the rest of
// the line. A comma inside a quoted string does not end the directive.
func nextDirective(s string) (name, value, rest string) {
	s = trimOWS(s)
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '=' {
		i++
	}
	name = trimOWS(s[:i])
	if i == len(s) || s[i] == ',' {
		if i < len(s) {
			i++
		}
		return name, "", s[i:]
	}
	s = trimOWS(s[i+1:]) // after '='
	if s != "" && s[0] == '"' {
		j := 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			j++
		}
		value = s[1:min(j, len(s))]
		if j < len(s) {
			j++ // the closing quote
		}
		for j < len(s) && s[j] != ',' {
			j++ // junk after the quoted string
		}
		if j < len(s) {
			j++
		}
		return name, value, s[j:]
	}
	j := 0
	for j < len(s) && s[j] != ',' {
		j++
	}
	value = trimOWS(s[:j])
	if j < len(s) {
		j++
	}
	return name, value, s[j:]
}

// setDelta stores the first occurrence of a delta-seconds directive.
func setDelta(dst *time.Duration, value string) {
	if *dst >= 0 {
		return
	}
	*dst = time.Duration(parseDelta(value)) * time.Second
}

// parseDelta parses delta-seconds (1*DIGIT), capped at 2^31; anything
// else is 0.
func parseDelta(s string) int64 {
	if s == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// noneMatch reports whether an If-None-Match field (its lines) matches
// etag, a strong or weak entity tag: "*" matches any, and tags compare
// weakly (W/ ignored), as RFC 9110 section 13.1.2 asks for If-None-Match.
func noneMatch(lines []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, line := range lines {
		for {
			line = trimOWS(line)
			for line != "" && line[0] == ',' {
				line = trimOWS(line[1:])
			}
			if line == "" {
				break
			}
			if line[0] == '*' {
				return true
			}
			tag := line
			tag = strings.TrimPrefix(tag, "W/")
			if tag == "" || tag[0] != '"' {
				break // not an entity-tag: ignore the rest of the line
			}
			end := strings.IndexByte(tag[1:], '"')
			if end < 0 {
				break
			}
			if tag[:end+2] == want {
				return true
			}
			line = tag[end+2:]
		}
	}
	return false
}

// ageSeconds formats an age as delta-seconds for the Age header: whole
// seconds rounded down, never negative, capped at 2^31.
func ageSeconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return min(int64(d/time.Second), maxDelta)
}

// pragmaNoCache reports whether Pragma field lines hold the no-cache
// directive (RFC 9111 section 5.4): case-insensitively, anywhere in the
// list, on any line. Extension pragmas (name=value) do not count.
func pragmaNoCache(lines []string) bool {
	for _, line := range lines {
		for line != "" {
			var name, value string
			name, value, line = nextDirective(line)
			if value == "" && strings.EqualFold(name, "no-cache") {
				return true
			}
		}
	}
	return false
}

// parseAge reads an Age field (RFC 9111 section 5.1): the first member
// of the first line, when a list or several lines arrive, must be
// delta-seconds; anything else is ignored (ok false).
func parseAge(lines []string) (age time.Duration, ok bool) {
	if len(lines) == 0 {
		return 0, false
	}
	v := lines[0]
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = trimOWS(v)
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	return time.Duration(parseDelta(v)) * time.Second, true
}
