package ratelimit

import (
	"net/http"
	"strconv"

	"github.com/paved-go/paved/internal/httpx"
)

// The RateLimit and RateLimit-Policy fields of the IETF httpapi draft
// "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers,
// revision 11), in their canonical http.Header spelling. Both are
// structured-field lists of items whose value is the policy name:
//
//	RateLimit-Policy: "default";q=100;w=60
//	RateLimit: "default";r=42;t=5
const (
	headerRateLimit       = "Ratelimit"
	headerRateLimitPolicy = "Ratelimit-Policy"
)

// A token bucket maps onto the draft's fields as follows. In
// RateLimit-Policy, the quota q is the burst and the window w is the time
// an empty bucket takes to fill, in whole seconds rounded up (at least 1),
// so q/w is close to the refill rate. In RateLimit, r is the whole tokens
// left; t is the seconds until the bucket is full again on an allowed
// response, and the Retry-After delay on a limited one (where r is 0), so
// that Retry-After never points before the end of the window, as the
// draft asks.

// policyValue returns the RateLimit-Policy item of a policy.
func policyValue(name string, q Quota) string {
	b := appendSFString(make([]byte, 0, len(name)+32), name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(q.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, httpx.CeilSeconds(q.duration(float64(q.Burst)), 1), 10)
	return string(b)
}

// rateLimitPrefix returns the start of a policy's RateLimit item, up to
// the value of r.
func rateLimitPrefix(name string) string {
	return string(append(appendSFString(make([]byte, 0, len(name)+8), name), ";r="...))
}

// rateLimitValue returns the RateLimit item for d.
func rateLimitValue(prefix string, d Decision) string {
	var buf [96]byte
	b := append(buf[:0], prefix...)
	t := httpx.CeilSeconds(d.ResetAfter, 0)
	if !d.Allowed {
		t = httpx.CeilSeconds(d.RetryAfter, 1)
	}
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, t, 10)
	return string(b)
}

// validPolicyName reports whether name can be a policy name: not empty and
// printable ASCII, which is what a structured-field String may hold.
func validPolicyName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return false
		}
	}
	return true
}

// appendSFString appends s as a structured-field String (RFC 9651): quoted,
// with '"' and '\' escaped. s is printable ASCII (validPolicyName).
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// addValues adds a shared, precomputed value slice to h[key] without
// allocating when h has no such field yet. The slice has no spare
// capacity, so a later Add copies it instead of writing into it.
func addValues(h http.Header, key string, vs []string) {
	if old := h[key]; len(old) > 0 {
		h[key] = append(old, vs...)
		return
	}
	h[key] = vs
}
