package idempotency

import (
	"strings"

	"github.com/google/uuid"
)

// ParseKey returns the key in an Idempotency-Key field value.
//
// The draft (section 2.1) defines the value as an RFC 8941 structured
// field Item whose value is a String: a quoted string in which only \"
// and \\ are escapes, optionally followed by parameters, which are
// checked for syntax and ignored. Because many clients send the key
// bare, a value that is not quoted is accepted as the key itself when it
// is made of visible ASCII other than '"', '\\', ';' and ','; "abc" and
// abc are then the same key. Surrounding spaces are ignored. An empty
// key, a key longer than MaxKeyLength bytes, or any other value is
// ErrKeyInvalid.
func ParseKey(v string) (string, error) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", ErrKeyInvalid
	}
	if v[0] != '"' {
		if len(v) > MaxKeyLength {
			return "", ErrKeyInvalid
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ';' || c == ',' {
				return "", ErrKeyInvalid
			}
		}
		return v, nil
	}
	key, rest, ok := parseString(v)
	if !ok || key == "" || len(key) > MaxKeyLength || !parseParams(rest) {
		return "", ErrKeyInvalid
	}
	return key, nil
}

// parseString parses the sf-string at the start of v (RFC 8941 section
// 4.2.5) and returns its value and what follows it. It allocates only
// when the string holds escapes.
func parseString(v string) (s, rest string, ok bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", v, false
	}
	var b []byte
	start := 1
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			if i+1 >= len(v) || v[i+1] != '"' && v[i+1] != '\\' {
				return "", v, false
			}
			b = append(b, v[start:i]...)
			i++
			start = i
		case c == '"':
			if b == nil {
				return v[1:i], v[i+1:], true
			}
			b = append(b, v[start:i]...)
			return string(b), v[i+1:], true
		case c < 0x20 || c > 0x7e:
			return "", v, false
		}
	}
	return "", v, false // no closing quote
}

// parseParams checks that v is a list of parameters (RFC 8941 section
// 4.2.3.2) and nothing else: *( ";" *SP key [ "=" bare-item ] ).
func parseParams(v string) bool {
	for v != "" {
		if v[0] != ';' {
			return false
		}
		v = strings.TrimLeft(v[1:], " ")
		n := keyLen(v)
		if n == 0 {
			return false
		}
		v = v[n:]
		if v != "" && v[0] == '=' {
			var ok bool
			if v, ok = skipBareItem(v[1:]); !ok {
				return false
			}
		}
	}
	return true
}

// keyLen returns the length of the sf key at the start of v, 0 if none.
func keyLen(v string) int {
	if v == "" || !(v[0] >= 'a' && v[0] <= 'z' || v[0] == '*') {
		return 0
	}
	i := 1
	for ; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
	}
	return i
}

// skipBareItem skips the bare item at the start of v (RFC 8941 section
// 4.2.3.1, with RFC 9651's Date and Display String) and returns the rest.
func skipBareItem(v string) (string, bool) {
	if v == "" {
		return v, false
	}
	switch c := v[0]; {
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(v)
	case c == '"':
		_, rest, ok := parseString(v)
		return rest, ok
	case c == ':':
		i := 1
		for ; i < len(v) && v[i] != ':'; i++ {
			if d := v[i]; !(d >= 'A' && d <= 'Z' || d >= 'a' && d <= 'z' || d >= '0' && d <= '9' || d == '+' || d == '/' || d == '=') {
				return v, false
			}
		}
		if i == len(v) {
			return v, false
		}
		return v[i+1:], true
	case c == '?':
		if len(v) < 2 || v[1] != '0' && v[1] != '1' {
			return v, false
		}
		return v[2:], true
	case c == '@':
		if len(v) < 2 || v[1] == '.' {
			return v, false
		}
		rest, ok := skipNumber(v[1:])
		if !ok || strings.IndexByte(v[1:len(v)-len(rest)], '.') >= 0 {
			return v, false // a Date is an Integer
		}
		return rest, true
	case c == '%':
		return skipDisplayString(v[1:])
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		i := 1
		for ; i < len(v) && tokenChar(v[i]); i++ {
		}
		return v[i:], true
	}
	return v, false
}

// skipNumber skips an sf Integer or Decimal.
func skipNumber(v string) (string, bool) {
	i := 0
	if v[0] == '-' {
		i++
	}
	digits, frac, dot := 0, 0, false
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			if dot {
				frac++
			} else {
				digits++
			}
		case c == '.' && !dot:
			dot = true
		default:
			goto done
		}
	}
done:
	switch {
	case digits == 0:
		return v, false
	case !dot && digits > 15:
		return v, false
	case dot && (digits > 12 || frac == 0 || frac > 3):
		return v, false
	}
	return v[i:], true
}

// skipDisplayString skips the part of an RFC 9651 Display String after
// its '%': a quoted string of printable ASCII other than '%', and
// lowercase %xx escapes.
func skipDisplayString(v string) (string, bool) {
	if v == "" || v[0] != '"' {
		return v, false
	}
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			return v[i+1:], true
		case c == '%':
			if i+2 >= len(v) || !lowerHex(v[i+1]) || !lowerHex(v[i+2]) {
				return v, false
			}
			i += 2
		case c < 0x20 || c > 0x7e:
			return v, false
		}
	}
	return v, false
}

func lowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// tokenChar reports whether c may follow the first character of an sf
// Token: tchar, ':' or '/'.
func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

// FormatKey returns key as the field value of an Idempotency-Key header:
// an sf-string, with '"' and '\\' escaped. key must be printable ASCII
// (ParseKey(FormatKey(key)) == key).
func FormatKey(key string) string {
	b := make([]byte, 0, len(key)+2)
	b = append(b, '"')
	for i := 0; i < len(key); i++ {
		if key[i] == '"' || key[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, key[i])
	}
	return string(append(b, '"'))
}

// NewKey returns a new random key (a UUID, as the draft recommends) as
// an Idempotency-Key field value: FormatKey of it.
func NewKey() string {
	return `"` + uuid.NewString() + `"`
}
