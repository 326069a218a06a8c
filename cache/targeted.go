package cache

import (
	"strings"
	"time"
)

// Targeted cache-control fields (RFC 9213) such as CDN-Cache-Control
// carry the directives of Cache-Control for one class of caches, with
// the syntax of a Structured Field Dictionary (RFC 9651 section 3.2)
// instead of Cache-Control's own.

// sfKind is the type of a Structured Field item as far as cache
// directives care.
type sfKind uint8

const (
	sfBoolean sfKind = iota + 1
	sfInteger
	sfOther // decimal, string, token, byte sequence, date, display string, inner list
)

// parseTargeted parses the lines of a targeted field as one Dictionary
// (lines are joined with commas, RFC 9651 section 4.2) and returns the
// directives it holds. ok is false when the field fails to parse or is
// empty: RFC 9213 section 2.2 then has the cache ignore it and fall back
// to Cache-Control. In a Dictionary the last of duplicate keys wins.
// Directives of the wrong type are ignored: a duration must be a
// non-negative Integer; a flag counts unless its value is Boolean false.
func parseTargeted(lines []string) (d directives, ok bool) {
	d = directives{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, minFresh: -1, maxStale: -1}
	// Field lines combine as one comma-separated value (RFC 9651 section
	// 4.2); strings.Join does not copy a single line.
	s := strings.Trim(strings.Join(lines, ", "), " ")
	if s == "" {
		return d, false
	}
	members := 0
	for {
		key, kind, n, rest, good := sfMember(s)
		if !good {
			return d, false
		}
		members++
		flag := kind != sfBoolean || n != 0
		dur := time.Duration(-1)
		if kind == sfInteger && n >= 0 {
			dur = time.Duration(min(n, maxDelta)) * time.Second
		}
		switch key {
		case "max-age":
			d.maxAge = dur
		case "s-maxage":
			d.sMaxAge = dur
		case "stale-while-revalidate":
			d.swr = dur
		case "stale-if-error":
			d.sie = dur
		case "no-store":
			d.noStore = flag
		case "no-cache":
			d.noCache = flag
		case "private":
			d.private = flag
		case "public":
			d.public = flag
		case "must-revalidate":
			d.mustRevalidate = flag
		case "proxy-revalidate":
			d.proxyRevalidate = flag
		case "must-understand":
			d.mustUnderstand = flag
		}
		s = strings.TrimLeft(rest, " \t")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return d, false
		}
		s = strings.TrimLeft(s[1:], " \t")
		if s == "" {
			return d, false // trailing comma
		}
	}
	return d, members > 0
}

// sfMember parses one Dictionary member at the start of s: its key, the
// kind of its value (Boolean true when it has none) and, for a Boolean
// or an Integer, the number; parameters are checked and dropped.
func sfMember(s string) (key string, kind sfKind, n int64, rest string, ok bool) {
	key, s, ok = sfKey(s)
	if !ok {
		return
	}
	if s != "" && s[0] == '=' {
		s = s[1:]
		if s != "" && s[0] == '(' {
			s, ok = sfInnerList(s)
			kind = sfOther
		} else {
			kind, n, s, ok = sfBareItem(s)
		}
		if !ok {
			return
		}
	} else {
		kind, n = sfBoolean, 1
	}
	s, ok = sfParams(s)
	return key, kind, n, s, ok
}

// sfKey parses a key: lcalpha or "*", then lcalpha, DIGIT, "_", "-",
// "." or "*".
func sfKey(s string) (key, rest string, ok bool) {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] == '*') {
		return "", s, false
	}
	i := 1
	for i < len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			i++
			continue
		}
		break
	}
	return s[:i], s[i:], true
}

// sfParams parses parameters: *( ";" *SP key [ "=" bare-item ] ).
func sfParams(s string) (string, bool) {
	for s != "" && s[0] == ';' {
		s = strings.TrimLeft(s[1:], " ")
		var ok bool
		if _, s, ok = sfKey(s); !ok {
			return s, false
		}
		if s != "" && s[0] == '=' {
			if _, _, s, ok = sfBareItem(s[1:]); !ok {
				return s, false
			}
		}
	}
	return s, true
}

// sfInnerList parses "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func sfInnerList(s string) (string, bool) {
	s = s[1:]
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return s, false
		}
		if s[0] == ')' {
			return sfParams(s[1:])
		}
		var ok bool
		if _, _, s, ok = sfBareItem(s); !ok {
			return s, false
		}
		if s, ok = sfParams(s); !ok {
			return s, false
		}
		if s != "" && s[0] != ' ' && s[0] != ')' {
			return s, false
		}
	}
}

// sfBareItem parses an Integer, Decimal, String, Token, Byte Sequence,
// Boolean, Date or Display String.
func sfBareItem(s string) (kind sfKind, n int64, rest string, ok bool) {
	if s == "" {
		return 0, 0, s, false
	}
	switch c := s[0]; {
	case c == '-' || c >= '0' && c <= '9':
		return sfNumber(s)
	case c == '"':
		rest, ok = sfParseString(s)
		return sfOther, 0, rest, ok
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		i := 1
		for i < len(s) && (isTchar(s[i]) || s[i] == ':' || s[i] == '/') {
			i++
		}
		return sfOther, 0, s[i:], true
	case c == ':':
		i := 1
		for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '/' || s[i] == '=') {
			i++
		}
		if i == len(s) || s[i] != ':' {
			return 0, 0, s, false
		}
		return sfOther, 0, s[i+1:], true
	case c == '?':
		if len(s) < 2 || s[1] != '0' && s[1] != '1' {
			return 0, 0, s, false
		}
		return sfBoolean, int64(s[1] - '0'), s[2:], true
	case c == '@':
		k, _, rest, ok := sfNumber(s[1:])
		return sfOther, 0, rest, ok && k == sfInteger
	case c == '%':
		if len(s) < 2 || s[1] != '"' {
			return 0, 0, s, false
		}
		rest, ok = sfDisplayString(s[1:])
		return sfOther, 0, rest, ok
	}
	return 0, 0, s, false
}

// sfNumber parses an Integer (up to 15 digits) or a Decimal (up to 12
// digits, ".", 1 to 3 digits).
func sfNumber(s string) (kind sfKind, n int64, rest string, ok bool) {
	if s == "" {
		return 0, 0, s, false
	}
	i, neg := 0, false
	if s[0] == '-' {
		neg, i = true, 1
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int64(s[i]-'0')
		i++
		if i-start > 15 {
			return 0, 0, s, false
		}
	}
	if i == start {
		return 0, 0, s, false
	}
	if i < len(s) && s[i] == '.' {
		if i-start > 12 {
			return 0, 0, s, false
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 3 {
			return 0, 0, s, false
		}
		return sfOther, 0, s[j:], true
	}
	if neg {
		n = -n
	}
	return sfInteger, n, s[i:], true
}

// sfParseString parses a String: printable ASCII in quotes, with \" and \\.
func sfParseString(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) || s[i+1] != '"' && s[i+1] != '\\' {
				return s, false
			}
			i++
		case c == '"':
			return s[i+1:], true
		case c < 0x20 || c > 0x7e:
			return s, false
		}
	}
	return s, false
}

// sfDisplayString parses the quoted part of a Display String: printable
// ASCII other than '"' and '%', and %xx escapes in lowercase hex.
func sfDisplayString(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) || !isLowerHex(s[i+1]) || !isLowerHex(s[i+2]) {
				return s, false
			}
			i += 2
		case c == '"':
			return s[i+1:], true
		case c < 0x20 || c > 0x7e:
			return s, false
		}
	}
	return s, false
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// isTchar reports whether c is a token character (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
