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

	"github.com/paved-go/paved/internal/httpx"
)

// response is an HTTP response recorded from a handler, to be stored and
// sent to other requests, or the Vary names learned for a URL (index).
// Nothing in it changes once it is built, except the cached per-second
// Age and Cache-Status values; header value slices are clipped, so a
// handler further out that appends to one copies it instead of writing
// into ours.
type response struct {
	status      int
	header      http.Header // the stored fields (see defaultUnstored): no Age, no per-request fields
	notModified http.Header // the fields a 304 repeats (RFC 9110 section 15.4.5)
	fields      []field     // header as a list, faster to copy out than to range over the map
	nmFields    []field     // notModified as a list
	body        []byte
	etag        string    // the ETag, or ""
	ownETag     bool      // etag was computed here, not sent by the handler: never sent upstream
	lastMod     string    // the Last-Modified line, or ""
	modified    time.Time // Last-Modified, else Date, else date: for If-Modified-Since
	date        time.Time // response_time: when the handler finished
	initialAge  time.Duration
	ttl         time.Duration // freshness lifetime less initialAge, as stored (before jitter)
	fwdStatus   int           // the status the handler answered: 304 when p was revalidated
	ageIn       []string      // the handler's Age lines, repeated on forwarded answers
	upstream    []string      // the handler's Cache-Status lines; ours goes after them
	keyParam    string        // Cache-Status key parameter, or ""
	vary        []string      // canonical names from Vary
	varyKey     string        // those fields' values in the request that produced it

	// shareable: may answer the requests that joined its load, besides
	// the one that produced it. stored: kept for later requests.
	shareable, stored bool
	// neverFresh: stored only to be revalidated (no-cache, or no
	// lifetime left); noStale: must-revalidate, proxy-revalidate,
	// s-maxage or no-cache forbid serving it stale (RFC 9111 section
	// 4.2.4).
	neverFresh, noStale bool
	streamed            bool     // the body went straight to the requesting client (over WithMaxBodyBytes)
	index               bool     // a Vary record, not a response
	variants            []string // a Vary record's stored variants' Vary values, some of them

	hitHeaders atomic.Pointer[hitHeaders]
}

// hitHeaders are the Age and Cache-Status values sent with p from the
// store, rebuilt only when a whole second passes.
type hitHeaders struct {
	age, ttl int64
	ageLine  []string
	status   []string
}

// recorder is the ResponseWriter a loading handler writes to. It buffers
// the body up to the limit; past it, it sends what it has and the rest
// straight to the requesting client through the tap (if it still waits)
// and keeps nothing. Informational (1xx) responses go through the tap
// at once.
type recorder struct {
	header http.Header
	status int
	body   []byte
	limit  int64
	over   bool
	tap    *tap
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status != 0 || code < 100 {
		return
	}
	if code < 200 {
		if code != http.StatusSwitchingProtocols && w.tap != nil {
			w.tap.interim(w.header, code)
		}
		return
	}
	w.status = code
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.over {
		w.tap.body(p)
		return len(p), nil
	}
	if int64(len(w.body))+int64(len(p)) > w.limit {
		w.over = true
		w.tap.start(w.header, w.status, w.body)
		w.body = nil
		w.tap.body(p)
		return len(p), nil
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Flush passes on to the client once the response is streamed, and
// otherwise does nothing: a buffered response is sent when the handler
// returns.
func (w *recorder) Flush() {
	if w.over {
		w.tap.flush()
	}
}

// heuristicStatus reports the statuses RFC 9110 section 15.1 calls
// heuristically cacheable, less 206 (ranges are not stored here).
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports the final statuses RFC 9110 section 15
// defines, whose caching rules this cache knows.
func understoodStatus(code int) bool {
	switch {
	case code >= 200 && code <= 206, code >= 300 && code <= 308 && code != 306,
		code >= 400 && code <= 417, code == 421, code == 422, code == 426, code >= 500 && code <= 505:
		return true
	}
	return false
}

// serverError reports the statuses RFC 5861 counts as errors for
// stale-if-error.
func serverError(code int) bool {
	return code == 500 || code == 502 || code == 503 || code == 504
}

// notModifiedFields are the fields a 304 carries (RFC 9110 section
// 15.4.5), as net/http's ServeContent sends them.
var notModifiedFields = []string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary"}

// newResponse builds the response a handler wrote to rec for r, which
// it sent at requested and finished at now, and decides with RFC 9111's
// rules whether it may be shared and stored and for how long, recording
// that in fr for the cache.
func (rc *ResponseCache) newResponse(rec *recorder, r *http.Request, fr *freshness, requested, now time.Time) *response {
	h := rec.header
	p := &response{status: rec.status, body: rec.body, date: now}
	if p.status == 0 {
		p.status = http.StatusOK
	}
	cc, targeted := rc.directivesOf(h)
	misunderstood := false
	if cc.mustUnderstand {
		// RFC 9111 section 5.2.2.3: no-store is for caches that do not
		// know the status's rules; one that does not is kept out.
		if understoodStatus(p.status) {
			cc.noStore = false
		} else {
			misunderstood = true
		}
	}
	vary, star := varyNames(h["Vary"])
	p.vary = vary
	p.varyKey = varyValues(vary, r.Header)
	// mayStore: nothing forbids a shared cache to keep the response;
	// no-cache still lets it store, but not answer without revalidating.
	mayStore := !cc.noStore && !cc.private && !star && !rec.over &&
		len(h["Set-Cookie"]) == 0 &&
		(len(r.Header["Authorization"]) == 0 || cc.public || cc.sMaxAge >= 0 || cc.mustRevalidate)
	p.shareable = mayStore && !cc.noCache

	p.header = make(http.Header, len(h)+1)
	rc.copyStored(p.header, h)
	p.ageIn = slices.Clip(h["Age"])
	p.upstream = slices.Clip(h["Cache-Status"])

	// RFC 9111 section 4.2.3.
	dateValue, hasDate := singleDate(h["Date"], now)
	if !hasDate {
		// RFC 9110 section 6.6.1: a recipient with a clock adds Date
		// to a response it caches or forwards without one.
		dateValue = now
		p.header["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
	ageValue, _ := parseAge(h["Age"])
	apparent := max(now.Sub(dateValue), 0)
	corrected := ageValue + max(now.Sub(requested), 0)
	p.initialAge = max(apparent, corrected)

	if bodyAllowed(p.status) {
		p.header["Content-Length"] = []string{strconv.Itoa(len(p.body))}
	} else {
		p.body = nil
	}
	if lm := h["Last-Modified"]; len(lm) == 1 {
		p.lastMod = lm[0]
	}
	p.modified = dateValue
	if t, ok := singleDate(h["Last-Modified"], now); ok {
		p.modified = t
	}

	// Freshness (RFC 9111 section 4.2.1), explicit first.
	lifetime := time.Duration(-1)
	switch {
	case cc.sMaxAge >= 0:
		lifetime = cc.sMaxAge
	case cc.maxAge >= 0:
		lifetime = cc.maxAge
	case !targeted && len(h["Expires"]) > 0:
		lifetime = 0 // invalid: already expired (section 5.3)
		if exp, ok := singleDate(h["Expires"], now); ok {
			lifetime = max(exp.Sub(dateValue), 0)
		}
	}
	explicit := lifetime >= 0
	storable := mayStore
	// Section 3: a final status other than 206 and 304 may be stored
	// when the response states its freshness or is public; the
	// heuristically cacheable statuses may be stored without either.
	storable = storable && !misunderstood && p.status >= 200 && p.status != http.StatusPartialContent && p.status != http.StatusNotModified &&
		(explicit || cc.public || heuristicStatus(p.status))
	if !explicit && storable {
		switch {
		case fr.ttlSet: // the handler called SetTTL
			lifetime = fr.ttl
			storable = lifetime > 0 // SetTTL(ctx, 0): not stored
		case rc.cfg.ttlSet:
			lifetime = rc.cfg.ttl
		case rc.cfg.http.heuristic > 0 && p.lastMod != "" && p.modified.Before(dateValue):
			// Section 4.2.2: a fraction of the time since the last
			// change, capped.
			lifetime = min(dateValue.Sub(p.modified)/10, rc.cfg.http.heuristic)
		default:
			lifetime = 0 // stale at once: kept only to revalidate or serve stale
		}
	}
	p.noStale = cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge >= 0 || cc.noCache
	validator := len(h["Etag"]) > 0 || p.lastMod != ""
	p.ttl = lifetime - p.initialAge
	switch {
	case !storable:
	case cc.noCache:
		p.stored = validator // kept to be revalidated before each use
		p.neverFresh = true
	case p.ttl > 0:
		p.stored = true
	case lifetime >= 0 && (validator || !p.noStale && (cc.swr > 0 || cc.sie > 0 || rc.cfg.swr > 0 || rc.cfg.sie > 0)):
		p.stored = true // stale at once, kept to revalidate or to serve stale
		p.neverFresh = true
	}
	if p.shareable && p.stored && cap(p.body) > len(p.body) {
		// The recorder's buffer grew by doubling; a stored body must take
		// what WithMaxBytes counts for it, not up to half as much again.
		p.body = bytes.Clone(p.body)
	}
	if et := p.header["Etag"]; len(et) > 0 {
		p.etag = et[0]
	} else if p.stored && rc.cfg.etag && p.status == http.StatusOK {
		sum := sha256.Sum256(p.body)
		p.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		p.ownETag = true
		p.header["Etag"] = []string{p.etag}
	}
	p.notModified = make(http.Header, len(notModifiedFields)+1)
	for _, k := range notModifiedFields {
		if v, ok := p.header[k]; ok {
			p.notModified[k] = v
		}
	}
	if p.etag == "" && p.lastMod != "" {
		p.notModified["Last-Modified"] = p.header["Last-Modified"]
	}
	if v, ok := p.header["Set-Cookie"]; ok {
		// Not representation metadata: the handler asked to set it on
		// this client, which is the only one such a response reaches.
		p.notModified["Set-Cookie"] = v
	}

	p.fields, p.nmFields = fieldsOf(p.header), fieldsOf(p.notModified)
	if !p.stored {
		fr.noStore = true
		return p
	}
	fr.ttl, fr.ttlSet = max(p.ttl, time.Nanosecond), true
	if p.neverFresh {
		fr.ttl = time.Nanosecond
	}
	if p.noStale {
		fr.swr, fr.swrSet, fr.sie, fr.sieSet = 0, true, 0, true
	} else {
		fr.swr, fr.sie = rc.cfg.swr, rc.cfg.sie
		if cc.swr >= 0 {
			fr.swr = cc.swr
		}
		if cc.sie >= 0 {
			fr.sie = cc.sie
		}
		if p.ttl < 0 {
			// Stale on arrival (its Age or Date says so): the stale
			// windows run from when it became stale, not from now.
			fr.swr, fr.sie = max(fr.swr+p.ttl, 0), max(fr.sie+p.ttl, 0)
		}
		fr.swrSet, fr.sieSet = true, true
	}
	return p
}

// expiry is when p, stored with the fresh deadline fresh, became stale:
// that deadline, or earlier for a response that arrived stale (its
// lifetime less its age, p.ttl, is negative).
func (p *response) expiry(fresh time.Time) time.Time {
	if p.ttl < 0 {
		return fresh.Add(p.ttl)
	}
	return fresh
}

// directivesOf returns the cache directives of a response: those of the
// first targeted field with a valid, non-empty value (RFC 9213 section
// 2.2), which also makes Expires ignored (targeted true), or else those
// of Cache-Control.
func (rc *ResponseCache) directivesOf(h http.Header) (d directives, targeted bool) {
	for _, name := range rc.targeted {
		if lines := h[name]; len(lines) > 0 {
			if d, ok := parseTargeted(lines); ok {
				return d, true
			}
		}
	}
	return parseCacheControl(h["Cache-Control"]), false
}

// field is one header field of a stored response.
type field struct {
	name  string
	value []string
}

func fieldsOf(h http.Header) []field {
	fs := make([]field, 0, len(h))
	for k, v := range h {
		fs = append(fs, field{k, v})
	}
	return fs
}

// singleDate parses a field that must hold one HTTP-date: several lines
// or an invalid date give ok false.
func singleDate(lines []string, now time.Time) (time.Time, bool) {
	if len(lines) != 1 {
		return time.Time{}, false
	}
	return httpx.ParseHTTPDateAt(lines[0], now)
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
// for the cache key; "" when there are no names. An absent field is
// written as absentField, which no field value can hold, so that it
// matches only another absent one, never an empty value (RFC 9111
// section 4.1).
func varyValues(names []string, h http.Header) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte(0)
		}
		vs, ok := h[name]
		if !ok {
			b.WriteByte(absentField)
			continue
		}
		for j, v := range vs {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// absentField stands for a Vary field the request lacks: a control
// character, which net/http refuses in field values.
const absentField = 1

// currentAge is p's age at now (RFC 9111 section 4.2.3): its corrected
// initial age plus the time it has been stored.
func (p *response) currentAge(now time.Time) time.Duration {
	return max(now.Sub(p.date), 0) + p.initialAge
}

// how says in what capacity a response is sent.
type how struct {
	fromStore bool
	ttl       time.Duration // from the store: the time left fresh (negative: stale)
	status    string        // forwarded: our Cache-Status member
	header    http.Header   // forwarded to the request that loaded it: the handler's own fields
}

// write sends p as the answer to r: 304 Not Modified when r's
// conditional fields match (RFC 9110 section 13.2.2: If-None-Match,
// else If-Modified-Since), headers only for HEAD, otherwise the whole
// response. Responses from the store carry Age; forwarded ones carry the
// handler's Age, if any.
func (rc *ResponseCache) write(w http.ResponseWriter, r *http.Request, p *response, now time.Time, hw how) {
	h := w.Header()
	notModified := p.status/100 == 2 && p.notModifiedFor(r, now)
	switch {
	case notModified:
		for _, f := range p.nmFields {
			h[f.name] = f.value
		}
	case hw.header != nil:
		for k, v := range hw.header {
			h[k] = v
		}
	default:
		for _, f := range p.fields {
			h[f.name] = f.value
		}
	}
	if hw.header != nil && p.ownETag && !notModified {
		h["Etag"] = p.header["Etag"] // computed for the store: the first client may revalidate too
	}
	switch {
	case hw.fromStore:
		hh := p.hitHeadersAt(rc, now, hw.ttl)
		h["Age"] = hh.ageLine
		if hh.status != nil {
			h["Cache-Status"] = hh.status
		}
	case hw.status != "":
		h["Cache-Status"] = append(slices.Clip(p.upstream), hw.status)
	}
	if !hw.fromStore && hw.header == nil && len(p.ageIn) > 0 {
		h["Age"] = p.ageIn // forwarded to a waiter as the handler said
	}
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(p.status)
	if r.Method != http.MethodHead && len(p.body) > 0 {
		_, _ = w.Write(p.body)
	}
}

// notModifiedFor evaluates r's If-None-Match, or without one its
// If-Modified-Since, against p (RFC 9110 section 13.2.2 and RFC 9111
// section 4.3.2).
func (p *response) notModifiedFor(r *http.Request, now time.Time) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return p.etag != "" && noneMatch(inm, p.etag)
	}
	if ims := r.Header["If-Modified-Since"]; len(ims) == 1 {
		t, ok := httpx.ParseHTTPDateAt(ims[0], now)
		return ok && !p.modified.After(t)
	}
	return false
}

// hitHeadersAt returns the Age and Cache-Status lines for p sent from
// the store at now with ttl left, reusing the last ones built while the
// whole seconds are unchanged.
func (p *response) hitHeadersAt(rc *ResponseCache, now time.Time, ttl time.Duration) *hitHeaders {
	age := ageSeconds(p.currentAge(now))
	ttlSec := int64(ttl.Round(time.Second) / time.Second)
	if hh := p.hitHeaders.Load(); hh != nil && hh.age == age && hh.ttl == ttlSec {
		return hh
	}
	hh := &hitHeaders{age: age, ttl: ttlSec, ageLine: []string{strconv.FormatInt(age, 10)}}
	if rc.statusName != "" {
		s := rc.statusName + "; hit; ttl=" + strconv.FormatInt(ttlSec, 10) + p.keyParam
		hh.status = append(slices.Clip(p.upstream), s)
	}
	p.hitHeaders.Store(hh)
	return hh
}

// responseCost is what a stored response counts against WithMaxBytes:
// its body, its key and Vary values (as long as the client made them),
// an estimate of its headers, and of the structures holding it.
func responseCost(k reqKey, p *response) int64 {
	n := int64(len(p.body)) + 512
	n += int64(len(k.host) + len(k.path) + len(k.rawPath) + len(k.query) + len(k.vary) + len(p.varyKey) + len(p.keyParam))
	for _, name := range p.vary {
		n += int64(len(name)) + 16
	}
	for _, v := range p.variants {
		n += int64(len(v)) + 16
	}
	for k, v := range p.header {
		n += int64(len(k)) + 64 // the map entry and the fields list entry
		for _, s := range v {
			n += int64(len(s)) + 16
		}
	}
	return n
}
