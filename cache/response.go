package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// response is an HTTP response recorded from a handler, to be stored and
// sent to other requests. Nothing in it changes once it is built, except
// the cached Age value; header value slices are clipped, so a handler
// further out that appends to one copies it instead of writing into ours.
type response struct {
	status      int
	header      http.Header // sent with the body; no Age, no hop-by-hop fields
	notModified http.Header // the fields a 304 repeats (RFC 9110 section 15.4.5)
	body        []byte
	etag        string        // the ETag, or ""
	date        time.Time     // when the handler finished
	initialAge  time.Duration // the handler's own Age
	vary        []string      // canonical names from Vary
	varyKey     string        // those fields' values in the request that produced it
	shared      bool          // may be sent to requests other than the one that produced it
	age         atomic.Pointer[ageValue]
}

type ageValue struct {
	seconds int64
	header  []string
}

// recorder is the ResponseWriter a loading handler writes to. It buffers
// the whole response: a body over the limit is still kept for the request
// that asked for it, but marks the response as not to be shared.
type recorder struct {
	header http.Header
	status int
	body   []byte
	limit  int64
	over   bool
}

func (w *recorder) Header() http.Header { return w.header }

// WriteHeader records the status. Informational (1xx) responses are
// dropped: they cannot reach the client from the load's goroutine.
func (w *recorder) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	if int64(len(w.body)) > w.limit {
		w.over = true
	}
	return len(p), nil
}

// Flush does nothing: the response is sent once the handler returns.
func (w *recorder) Flush() {}

// cacheableStatus reports the status codes RFC 9110 section 15.1 calls
// heuristically cacheable, less 206 (ranges are not cached here). Other
// responses are neither stored nor shared, whatever their Cache-Control.
func cacheableStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// serverError reports the statuses RFC 5861 counts as errors for
// stale-if-error.
func serverError(code int) bool {
	return code == 500 || code == 502 || code == 503 || code == 504
}

var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// notModifiedFields are the fields a 304 carries (RFC 9110 section
// 15.4.5), as net/http's ServeContent sends them.
var notModifiedFields = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary"}

// newResponse builds the response a handler wrote to rec for r, and
// decides with RFC 9111's rules whether it may be shared and for how
// long, recording that in fr for the cache.
func (rc *ResponseCache) newResponse(rec *recorder, r *http.Request, fr *freshness, now time.Time) *response {
	h := rec.header
	p := &response{status: rec.status, body: rec.body, date: now}
	if p.status == 0 {
		p.status = http.StatusOK
	}
	cc := parseCacheControl(h["Cache-Control"])
	vary, star := varyNames(h["Vary"])
	p.vary = vary
	p.varyKey = varyValues(vary, r.Header)
	p.shared = cacheableStatus(p.status) && !cc.noStore && !cc.noCache && !cc.private && !star &&
		len(h["Set-Cookie"]) == 0 && !rec.over &&
		(len(r.Header["Authorization"]) == 0 || cc.public || cc.sMaxAge >= 0 || cc.mustRevalidate)

	p.header = make(http.Header, len(h)+2)
	for k, v := range h {
		if !hopByHop[k] && k != "Age" {
			p.header[k] = slices.Clip(v)
		}
	}
	if a := h["Age"]; len(a) > 0 {
		p.initialAge = time.Duration(parseDelta(trimOWS(a[0]))) * time.Second
	}
	if bodyAllowed(p.status) {
		p.header["Content-Length"] = []string{strconv.Itoa(len(p.body))}
	} else {
		p.body = nil
	}
	if p.shared && cap(p.body) > len(p.body) {
		// The recorder's buffer grew by doubling; a stored body must take
		// what WithMaxBytes counts for it, not up to half as much again.
		p.body = bytes.Clone(p.body)
	}
	if et := p.header["Etag"]; len(et) > 0 {
		p.etag = et[0]
	} else if p.shared && rc.cfg.etag && p.status == http.StatusOK {
		sum := sha256.Sum256(p.body)
		p.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		p.header["Etag"] = []string{p.etag}
	}
	p.notModified = make(http.Header, len(notModifiedFields)+1)
	for _, k := range notModifiedFields {
		if v, ok := p.header[k]; ok {
			p.notModified[k] = v
		}
	}
	if v, ok := p.header["Set-Cookie"]; ok {
		// Not representation metadata: the handler asked to set it on
		// this client, which is the only one such a response reaches.
		p.notModified["Set-Cookie"] = v
	}

	if !p.shared {
		fr.noStore = true
		return p
	}
	lifetime := time.Duration(-1)
	switch {
	case cc.sMaxAge >= 0:
		lifetime = cc.sMaxAge
	case cc.maxAge >= 0:
		lifetime = cc.maxAge
	case len(h["Expires"]) > 0:
		lifetime = expiresLifetime(h, now)
	}
	switch {
	case lifetime >= 0:
		fr.ttl, fr.ttlSet = lifetime-p.initialAge, true
	case fr.ttlSet: // the handler called SetTTL
	case !rc.cfg.ttlSet:
		fr.noStore = true // no freshness stated, none configured: shared with waiters only
	}
	if cc.mustRevalidate || cc.proxyRevalidate {
		fr.swr, fr.swrSet, fr.sie, fr.sieSet = 0, true, 0, true
	} else {
		if cc.swr >= 0 {
			fr.swr, fr.swrSet = cc.swr, true
		}
		if cc.sie >= 0 {
			fr.sie, fr.sieSet = cc.sie, true
		}
	}
	return p
}

// expiresLifetime is Expires minus Date (or now), per RFC 9111 section
// 4.2.1; an invalid Expires means already expired.
func expiresLifetime(h http.Header, now time.Time) time.Duration {
	exp, err := http.ParseTime(h.Get("Expires"))
	if err != nil {
		return 0
	}
	date := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		date = d
	}
	return max(exp.Sub(date), 0)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// varyNames returns the canonical field names of Vary lines, and whether
// one is "*" (the response varies on more than fields: never stored).
func varyNames(lines []string) (names []string, star bool) {
	for _, line := range lines {
		for f := range strings.SplitSeq(line, ",") {
			f = trimOWS(f)
			switch {
			case f == "":
			case f == "*":
				star = true
			default:
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	return names, star
}

// varyValues joins the values of the named fields in h into one string
// for the cache key; "" when there are no names.
func varyValues(names []string, h http.Header) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte(0)
		}
		for j, v := range h[name] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// currentAge is p's age at now: the time since the handler produced it
// plus the age the handler gave it (RFC 9111 section 4.2.3, with the
// handler in-process, so no transit delay).
func (p *response) currentAge(now time.Time) time.Duration {
	return max(now.Sub(p.date), 0) + p.initialAge
}

// ageHeader returns the Age field value for a response served at now,
// reusing the last one built while the age in seconds is unchanged.
func (p *response) ageHeader(now time.Time) []string {
	s := ageSeconds(p.currentAge(now))
	if a := p.age.Load(); a != nil && a.seconds == s {
		return a.header
	}
	a := &ageValue{seconds: s, header: []string{strconv.FormatInt(s, 10)}}
	p.age.Store(a)
	return a.header
}

// write sends p as the answer to r: 304 Not Modified when r's
// If-None-Match matches p's ETag, headers only for HEAD, otherwise the
// whole response. Shared responses carry Age.
func (p *response) write(w http.ResponseWriter, r *http.Request, now time.Time) {
	h := w.Header()
	if inm := r.Header["If-None-Match"]; len(inm) > 0 && p.etag != "" && p.status/100 == 2 && noneMatch(inm, p.etag) {
		for k, v := range p.notModified {
			h[k] = v
		}
		if p.shared {
			h["Age"] = p.ageHeader(now)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, v := range p.header {
		h[k] = v
	}
	if p.shared {
		h["Age"] = p.ageHeader(now)
	}
	w.WriteHeader(p.status)
	if r.Method != http.MethodHead && len(p.body) > 0 {
		_, _ = w.Write(p.body)
	}
}

// responseCost is what a stored response counts against WithMaxBytes:
// its body, its key and Vary values (as long as the client made them), and
// an estimate of its headers.
func responseCost(k reqKey, p *response) int64 {
	n := int64(len(p.body)) + 64
	n += int64(len(k.host) + len(k.path) + len(k.rawPath) + len(k.query) + len(k.vary) + len(p.varyKey))
	for k, v := range p.header {
		n += int64(len(k)) + 16
		for _, s := range v {
			n += int64(len(s)) + 16
		}
	}
	return n
}
