package ratelimit

import (
	"net/http"
	"strconv"
	"sync/atomic"

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
	b := httpx.AppendQuoted(make([]byte, 0, len(name)+32), name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(q.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, httpx.CeilSeconds(q.duration(float64(q.Burst)), 1), 10)
	return string(b)
}

// valueCache holds a policy's RateLimit field values already formatted,
// so that the common ones are sent without allocating: most requests come
// from callers far from their limit, whose buckets are near full, and they
// get the same few values (r a little under the burst, t a second or two).
// It is direct-mapped and lock-free; a miss formats the value and replaces
// the slot's entry, so the cache never holds more than len(slots) values.
type valueCache struct {
	prefix string // `"name";r=`
	slots  [64]atomic.Pointer[cachedValue]
}

// cachedValue is one formatted RateLimit item. vs has no spare capacity,
// so a later Add to the header copies it instead of writing into it.
type cachedValue struct {
	r, t int64
	vs   [1]string
}

func newValueCache(name string) *valueCache {
	return &valueCache{prefix: string(append(httpx.AppendQuoted(make([]byte, 0, len(name)+8), name), ";r="...))}
}

// get returns the RateLimit field value for d, as a one-element slice
// shared with other responses: callers must not write into it.
func (c *valueCache) get(d Decision) []string {
	r, t := int64(d.Remaining), httpx.CeilSeconds(d.ResetAfter, 0)
	if !d.Allowed {
		t = httpx.CeilSeconds(d.RetryAfter, 1)
	}
	slot := &c.slots[(uint64(r)*0x9e3779b97f4a7c15+uint64(t))>>58]
	if v := slot.Load(); v != nil && v.r == r && v.t == t {
		return v.vs[:]
	}
	var buf [96]byte
	b := append(buf[:0], c.prefix...)
	b = strconv.AppendInt(b, r, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, t, 10)
	v := &cachedValue{r: r, t: t, vs: [1]string{string(b)}}
	slot.Store(v)
	return v.vs[:]
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
