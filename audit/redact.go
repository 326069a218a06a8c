package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// Redacted replaces the value of a redacted JSON body member, unless the
// sink has an HMAC key (WithHMAC, WithSinkHMAC).
const Redacted = "[REDACTED]"

// hmacPrefix starts a value replaced by its HMAC.
const hmacPrefix = "hmac-sha256:"

// secretHeader reports whether a header carries credentials and so is
// never recorded.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
		"x-auth-token", "x-csrf-token", "x-xsrf-token", "x-amz-security-token":
		return true
	}
	for _, s := range [...]string{"token", "secret", "password", "session", "api-key", "apikey", "authorization", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// defaultSecretNames are redacted wherever a member's name contains them
// (accessToken, clientSecret, passwordHash).
var defaultSecretNames = [...]string{"password", "passwd", "secret", "token", "apikey", "api_key", "authorization", "credential"}

// redactor redacts JSON bodies: members whose names match, at any depth,
// and members at the paths given.
type redactor struct {
	names []string   // lower case, matched whole
	paths [][]string // matched case-insensitively, arrays looked through
}

func newRedactor(list []string) *redactor {
	r := &redactor{}
	for _, n := range list {
		if strings.Contains(n, ".") {
			r.paths = append(r.paths, strings.Split(n, "."))
		} else {
			r.names = append(r.names, strings.ToLower(n))
		}
	}
	return r
}

func (r *redactor) secretName(k string) bool {
	for _, s := range defaultSecretNames {
		if containsFold(k, s) {
			return true
		}
	}
	for _, n := range r.names {
		if strings.EqualFold(k, n) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII sub,
// ignoring case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func (r *redactor) secretPath(path []string) bool {
	for _, p := range r.paths {
		if len(p) != len(path) {
			continue
		}
		match := true
		for i := range p {
			if !strings.EqualFold(p[i], path[i]) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// replacer turns a secret value into what is recorded.
type replacer func(v any) any

func mask(any) any { return Redacted }

func hmacReplacer(key []byte) replacer {
	return func(v any) any {
		m := hmac.New(sha256.New, key)
		if s, ok := v.(string); ok {
			m.Write([]byte(s))
		} else {
			b, _ := json.Marshal(v)
			m.Write(b)
		}
		return hmacPrefix + hex.EncodeToString(m.Sum(nil))
	}
}

// parseJSON decodes a JSON body keeping numbers exact, or reports false.
func parseJSON(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if d.More() {
		return nil, false
	}
	return v, true
}

// redact returns a copy of v, a parsed JSON value, with its secret
// members replaced by repl. v is left as it was.
func (r *redactor) redact(v any, repl replacer) any {
	return r.walk(v, nil, repl, true)
}

// redactInPlace is redact reusing v's maps and slices, for a v no one
// else needs.
func (r *redactor) redactInPlace(v any, repl replacer) any {
	return r.walk(v, nil, repl, false)
}

func (r *redactor) walk(v any, path []string, repl replacer, copying bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := t
		if copying {
			out = make(map[string]any, len(t))
		}
		for k, x := range t {
			p := append(path, k)
			if r.secretName(k) || r.secretPath(p) {
				out[k] = repl(x)
				continue
			}
			out[k] = r.walk(x, p, repl, copying)
		}
		return out
	case []any:
		out := t
		if copying {
			out = make([]any, len(t))
		}
		for i, x := range t {
			out[i] = r.walk(x, path, repl, copying)
		}
		return out
	case json.Number:
		// A number no float64 holds (1e400) is valid JSON that many
		// parsers refuse: it is recorded as a string, so every receiver
		// can read the event.
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			return string(t)
		}
	}
	return v
}

// forExpr returns v with json.Numbers turned into float64s and ints, as
// expressions compare them.
func forExpr(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = forExpr(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = forExpr(x)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json type), ignoring parameters.
func isJSON(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	if strings.EqualFold(ct, "application/json") {
		return true
	}
	return len(ct) > 5 && strings.EqualFold(ct[len(ct)-5:], "+json") && strings.HasPrefix(strings.ToLower(ct), "application/")
}
