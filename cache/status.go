package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// staleRequested is the stale-served reason for a client's max-stale.
var staleRequested = attribute.String("paved.cache.stale.reason", "max-stale")

// defaultUnstored are the fields a ResponseCache never stores, so never
// sends from the store (WithUnstoredFields adds to them): hop-by-hop
// fields (RFC 9110 section 7.6.1, RFC 9111 section 3.1), the fields the
// cache computes itself (Age, Cache-Status), and fields a handler or an
// outer layer sets for one request only (correlation and trace ids,
// Server-Timing, rate-limit state). Fields named in Connection are not
// stored either.
var defaultUnstored = append(slices.Clone(hopByHopFields),
	"Age", "Cache-Status",
	"X-Correlation-Id", "X-Request-Id", "Traceparent", "Tracestate", "Server-Timing",
	"Ratelimit", "Ratelimit-Policy", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
	"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
)

// hopByHopFields are the hop-by-hop fields (RFC 9110 section 7.6.1),
// never stored and never forwarded.
var hopByHopFields = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authentication-Info",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// copyStored copies into dst the fields of src that may be stored.
func (rc *ResponseCache) copyStored(dst, src http.Header) {
	conn := src["Connection"]
	for k, v := range src {
		if rc.unstored[k] || k == "Content-Length" || inConnection(conn, k) {
			continue
		}
		dst[k] = slices.Clip(v)
	}
}

// forwardHeader returns the fields of a handler's response that go to
// the request that loaded it: all but the hop-by-hop ones (and the
// targeted fields when WithForwardTargetedCacheControl(false)).
func (rc *ResponseCache) forwardHeader(src http.Header) http.Header {
	conn := src["Connection"]
	h := make(http.Header, len(src))
	for k, v := range src {
		if hopByHop(k) || inConnection(conn, k) || rc.cfg.http.hideTargeted && rc.isTargeted(k) {
			continue
		}
		h[k] = v
	}
	return h
}

func hopByHop(k string) bool { return slices.Contains(hopByHopFields, k) }

func (rc *ResponseCache) isTargeted(k string) bool {
	for _, t := range rc.targeted {
		if t == k {
			return true
		}
	}
	return false
}

// inConnection reports whether the Connection field lines name k.
func inConnection(lines []string, k string) bool {
	for _, line := range lines {
		for f := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(trimOWS(f), k) {
				return true
			}
		}
	}
	return false
}

// forwardStatus is our Cache-Status member (RFC 9211) for a response
// forwarded from the handler: why (fwd), the handler's status when it
// differs (a 304 revalidation), whether it was stored and for how long,
// and whether this request joined another's load (collapsed).
func (rc *ResponseCache) forwardStatus(fwd string, p *response, collapsed bool) string {
	if rc.statusName == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rc.statusName) + len(p.keyParam) + 64)
	b.WriteString(rc.statusName)
	b.WriteString("; fwd=")
	b.WriteString(fwd)
	if p.fwdStatus != 0 && p.fwdStatus != p.status {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(p.fwdStatus))
	}
	if p.stored {
		b.WriteString("; stored; ttl=")
		ttl := p.ttl
		if p.neverFresh {
			ttl = min(ttl, 0)
		}
		b.WriteString(strconv.FormatInt(int64(ttl.Round(time.Second)/time.Second), 10))
	}
	if collapsed {
		b.WriteString("; collapsed")
	}
	b.WriteString(p.keyParam)
	return b.String()
}

// sfIdentifier returns name as a Cache-Status identifier: a Token when it
// is one, else a String.
func sfIdentifier(name string) string {
	c := name[0]
	token := c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	for i := 1; token && i < len(name); i++ {
		token = isTchar(name[i]) || name[i] == ':' || name[i] == '/'
	}
	if token {
		return name
	}
	return sfString(name)
}

// sfString quotes s as a Structured Field String; bytes a String cannot
// hold are percent-encoded.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteString("%" + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// varyPart shows the Vary values of a key, NUL-separated inside it.
func varyPart(v string) string {
	if v == "" {
		return ""
	}
	return " vary=" + strings.ReplaceAll(strings.ReplaceAll(v, "\x01", ""), "\x00", "|")
}
