package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// ResponseCache is a shared HTTP cache (RFC 9111) in front of a
// handler: a service's own GET handlers, or an httputil.ReverseProxy to
// an upstream. See the package documentation for the rules it follows.
// It is safe for concurrent use.
type ResponseCache struct {
	c          *Cache[reqKey, *response]
	cfg        *config
	anyVary    atomic.Bool     // skips the Vary record lookup until a response varies
	unstored   map[string]bool // canonical names of fields never stored nor replayed
	targeted   []string        // targeted cache-control fields obeyed, in precedence order
	statusName string          // our Cache-Status member's identifier; "" when off
}

// reqKey is a response's cache key: the target URI and the request's
// values of the fields the response varies on. GET and HEAD share it.
// With index set the key holds the URL's Vary record instead: the field
// names its responses vary on, learned from them, stored in the same LRU
// so that it counts against the bounds like everything else.
type reqKey struct {
	host, path, rawPath, query string
	vary                       string
	index                      bool
}

// errServerError marks a 5xx response as a failed load, for
// stale-if-error; the response travels with it.
var errServerError = errors.New("cache: handler answered with a server error")

// forever is the lifetime of a Vary record: it leaves with the LRU.
const forever = 100 * 365 * 24 * time.Hour

// NewResponseCache returns a response cache named name (the
// paved.cache.name metric attribute and the Cache-Status identifier),
// configured by opts. It fails on an empty name, an invalid option or one
// meant for a Cache only (WithOnEvict, WithMaxCost, WithNegativeCache,
// WithSecondLevel). Unless WithShards says otherwise it keeps one shard:
// an HTTP request costs far more than the lock, and one shard keeps the
// byte bound and the LRU order exact.
func NewResponseCache(name string, opts ...Option) (*ResponseCache, error) {
	cfg, err := newConfig(name, opts)
	if err != nil {
		return nil, err
	}
	if cfg.cacheOnly != "" {
		return nil, fmt.Errorf("cache: %s applies to a Cache only", cfg.cacheOnly)
	}
	if cfg.shards == 0 {
		cfg.shards = 1
	}
	cfg.cost, cfg.maxCost = responseCost, cfg.maxBytes
	cfg.negMatch = func(error) bool { return false }
	c, err := newCache[reqKey, *response](cfg)
	if err != nil {
		return nil, err
	}
	rc := &ResponseCache{c: c, cfg: cfg, unstored: make(map[string]bool)}
	for _, f := range defaultUnstored {
		rc.unstored[f] = true
	}
	for _, f := range cfg.http.unstored {
		rc.unstored[f] = true
	}
	rc.targeted = []string{"Cdn-Cache-Control"}
	if cfg.http.targetedSet {
		rc.targeted = cfg.http.targeted
	}
	if cfg.http.hideTargeted {
		for _, f := range rc.targeted {
			rc.unstored[f] = true
		}
	}
	if !cfg.http.noCacheStatus {
		rc.statusName = sfIdentifier(name)
	}
	rc.register()
	return rc, nil
}

// Middleware caches next's responses with a ResponseCache named
// "default" with default options, which stores only responses that state their freshness
// (max-age, s-maxage or Expires) or that it can revalidate. Use
// NewResponseCache for other options, for Stats, or to Close it.
func Middleware(next http.Handler) http.Handler {
	rc, _ := NewResponseCache("default") // the defaults are valid
	return rc.Middleware(next)
}

// Middleware returns next behind the cache. GET and HEAD responses are
// cached; unsafe methods pass through and invalidate what they change;
// OPTIONS, TRACE, upgrades, Range requests, requests with If-Match,
// If-Unmodified-Since or If-Range, and requests with Cache-Control:
// no-store pass straight through. A nil *ResponseCache is the package
// function Middleware: a new ResponseCache named "default".
func (rc *ResponseCache) Middleware(next http.Handler) http.Handler {
	if rc == nil {
		return Middleware(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.serve(next, w, r)
	})
}

// Stats returns the cache's counters, as Cache.Stats.
func (rc *ResponseCache) Stats() Stats { return rc.c.Stats() }

// Len returns the number of stored responses. It visits every key.
func (rc *ResponseCache) Len() int {
	n := 0
	for i := range rc.c.shards {
		s := &rc.c.shards[i]
		s.mu.Lock()
		for _, k := range s.keys() {
			if !k.index {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Purge removes every stored response.
func (rc *ResponseCache) Purge() { rc.c.Purge() }

// Invalidate removes every stored response for path (r.URL.Path), for
// any host, query and Vary values, and makes loads of it running now
// store nothing: call it after a change to the resource that the cache
// cannot see (unsafe requests through the middleware invalidate on their
// own). It visits every stored response.
func (rc *ResponseCache) Invalidate(path string) {
	rc.c.deleteMatching(func(k reqKey) bool { return k.path == path })
}

// Close stops background refreshes and waits for running loads, as
// Cache.Close. Afterwards requests that miss get 503.
func (rc *ResponseCache) Close() error { return rc.c.Close() }

// serve answers r from a stored response when it may, and otherwise
// through miss.
func (rc *ResponseCache) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions, http.MethodTrace:
		next.ServeHTTP(w, r) // safe, and not cached here
		return
	default:
		rc.unsafe(next, w, r) // RFC 9111 section 4.4
		return
	}
	hr := r.Header
	if len(hr["Upgrade"]) > 0 {
		next.ServeHTTP(w, r)
		return
	}
	if len(hr["Range"]) > 0 || len(hr["If-Match"]) > 0 || len(hr["If-Unmodified-Since"]) > 0 || len(hr["If-Range"]) > 0 {
		// Ranges are not combined here, and these preconditions are for
		// the origin (RFC 9111 section 4.3.2).
		rc.bypass(next, w, r, "bypass")
		return
	}
	req := directives{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1, minFresh: -1, maxStale: -1}
	if v := hr["Cache-Control"]; len(v) > 0 {
		req = parseCacheControl(v)
	} else if p := hr["Pragma"]; len(p) > 0 && pragmaNoCache(p) {
		req.noCache = true // RFC 9111 section 5.4, for HTTP/1.0 clients
	}
	if req.noStore {
		rc.bypass(next, w, r, "request")
		return
	}
	ctx := r.Context()
	key := reqKey{host: r.Host, path: r.URL.Path, rawPath: r.URL.RawPath, query: r.URL.RawQuery}
	var names []string
	if rc.anyVary.Load() {
		idx := key
		idx.index = true
		if ie := rc.c.shard(idx).get(idx); ie != nil {
			names = ie.val.vary
			key.vary = varyValues(names, hr)
		}
	}
	c := rc.c
	now := c.now()
	s := c.shard(key)
	fwd := "uri-miss"
	if names != nil {
		fwd = "vary-miss"
	}
	e := s.get(key)
	if e != nil && !e.val.matches(r, key, names) {
		e, fwd = nil, "vary-miss"
	}
	if e != nil {
		p := e.val
		fresh := !p.neverFresh && now.Before(e.fresh)
		usable := !req.noCache && (req.maxAge < 0 || p.currentAge(now) <= req.maxAge)
		switch {
		case fresh && usable && (req.minFresh < 0 || now.Add(req.minFresh).Before(e.fresh)):
			if c.cfg.beta > 0 && c.earlyDue(e, now) {
				rc.refresh(next, r, s, key, e, now)
			}
			c.served(ctx, s, e)
			rc.write(w, r, p, now, how{fromStore: true, ttl: e.fresh.Sub(now)})
			return
		case !fresh && usable && !p.noStale && req.maxStale >= 0 && now.Sub(p.expiry(e.fresh)) <= req.maxStale:
			// RFC 9111 section 5.2.1.2: stale by no more than max-stale,
			// counted from when it became stale, before it was stored too.
			c.servedStale(ctx, s, e, staleRequested)
			rc.write(w, r, p, now, how{fromStore: true, ttl: p.expiry(e.fresh).Sub(now)})
			return
		case !fresh && usable && !p.noStale && now.Before(e.swr):
			rc.refresh(next, r, s, key, e, now)
			c.servedStale(ctx, s, e, staleRevalidate)
			rc.write(w, r, p, now, how{fromStore: true, ttl: p.expiry(e.fresh).Sub(now)})
			return
		case fresh:
			fwd = "request"
		default:
			fwd = "stale"
		}
	}
	if req.onlyIfCached {
		// RFC 9111 section 5.2.1.7.
		if rc.statusName != "" {
			w.Header()["Cache-Status"] = []string{rc.statusName + "; fwd=" + fwd}
		}
		w.WriteHeader(http.StatusGatewayTimeout)
		return
	}
	rc.miss(next, w, r, s, key, names, e, !req.noCache, fwd, now)
}

// miss answers r from the load of key: its own, or one running already.
// stale is the stored entry the load revalidates and falls back on for
// stale-if-error (when allowStale), or nil; fwd is why it was not used,
// for Cache-Status.
func (rc *ResponseCache) miss(next http.Handler, w http.ResponseWriter, r *http.Request, s *shard[reqKey, *response], key reqKey, names []string, stale *entry[*response], allowStale bool, fwd string, now time.Time) {
	c, ctx := rc.c, r.Context()
	t := &tap{rc: rc, w: w}
	if rc.statusName != "" {
		t.status = rc.statusName + "; fwd=" + fwd
	}
	// force: a response stored since the lookup may be one that must be
	// revalidated, which join cannot tell.
	f, leader, _, err := c.join(ctx, s, key, rc.loader(next, r, stale, t), now, true)
	if err != nil {
		c.requests.Add(ctx, resultError)
		rc.fail(w, r, err)
		return
	}
	werr := c.wait(ctx, f)
	streamed := t.detach()
	if werr != nil {
		s.stats.loaded(leader, nil)
		if !streamed {
			rc.fail(w, r, werr) // 504 past the request's deadline; nobody reads a 499
		}
		return
	}
	p := f.val
	if streamed {
		// The handler's response went to this client as it wrote it.
		s.stats.loaded(leader, f.err)
		if p == nil {
			panic(http.ErrAbortHandler) // cut short: let the client see it
		}
		return
	}
	now = c.now() // the wait may have been long: ages are as of sending
	if f.err != nil {
		if allowStale && stale != nil && !stale.val.noStale && now.Before(stale.sie) {
			c.servedStale(ctx, s, stale, staleError)
			rc.write(w, r, stale.val, now, how{fromStore: true, ttl: stale.val.expiry(stale.fresh).Sub(now)})
			return
		}
		if p == nil { // a timeout, a panic, Close: no response to send
			s.stats.loaded(leader, f.err)
			c.requests.Add(ctx, resultError)
			if errors.Is(f.err, http.ErrAbortHandler) {
				panic(http.ErrAbortHandler)
			}
			rc.fail(w, r, f.err)
			return
		}
	}
	s.stats.loaded(leader, nil)
	if !leader && (!p.shareable || !p.matches(r, key, names)) {
		c.requests.Add(ctx, resultCoalesced)
		next.ServeHTTP(w, r) // not for us: ask the handler ourselves
		return
	}
	if f.err != nil {
		c.requests.Add(ctx, resultError)
	} else {
		c.requests.Add(ctx, loadResult(leader))
	}
	hw := how{status: rc.forwardStatus(fwd, p, !leader)}
	if leader {
		hw.header = t.header
	}
	rc.write(w, r, p, now, hw)
}

// matches reports whether p may answer r, whose key was built with the
// Vary names known at the time: p must vary on the same fields with the
// same values.
func (p *response) matches(r *http.Request, key reqKey, names []string) bool {
	if len(p.vary) == 0 && key.vary == "" {
		return true
	}
	if equalNames(p.vary, names) {
		return key.vary == p.varyKey
	}
	return varyValues(p.vary, r.Header) == p.varyKey
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// conditionalFields are the request fields a load removes: the client's
// preconditions are evaluated by the cache against the response.
var conditionalFields = [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

// loader returns the load function for a miss of r: it serves a copy of
// r (GET, no body, no conditional fields of the client's, the load's
// context) to next into a recorder. With a stored response to
// revalidate it asks conditionally with that response's validators
// (RFC 9111 section 4.3.1), and on 304 updates it (section 4.3.4).
func (rc *ResponseCache) loader(next http.Handler, r *http.Request, se *entry[*response], t *tap) func(context.Context, reqKey) (*response, error) {
	var stale *response
	if se != nil {
		stale = se.val
	}
	return func(ctx context.Context, key reqKey) (*response, error) {
		lr := r.Clone(ctx)
		lr.Method = http.MethodGet
		lr.Body, lr.GetBody, lr.ContentLength = http.NoBody, nil, 0
		for _, f := range conditionalFields {
			delete(lr.Header, f)
		}
		conditional := false
		if stale != nil {
			if stale.etag != "" && !stale.ownETag {
				lr.Header["If-None-Match"] = []string{stale.etag}
				conditional = true
			}
			if stale.lastMod != "" {
				lr.Header["If-Modified-Since"] = []string{stale.lastMod}
				conditional = true
			}
		}
		fr := freshnessOf(ctx)
		requested := rc.c.now()
		rec := &recorder{header: make(http.Header), limit: rc.cfg.maxBody, tap: t}
		next.ServeHTTP(rec, lr)
		now := rc.c.now()
		var p *response
		if conditional && rec.status == http.StatusNotModified {
			p = rc.revalidated(stale, rec, lr, fr, requested, now)
			if p != nil {
				rc.updateVariants(key, stale, rec.header, lr, requested, now)
			}
			if p == nil {
				// The 304 is not about the stored response (section
				// 4.3.4): ask again without conditions.
				delete(lr.Header, "If-None-Match")
				delete(lr.Header, "If-Modified-Since")
				rec = &recorder{header: make(http.Header), limit: rc.cfg.maxBody, tap: t}
				requested = now
				next.ServeHTTP(rec, lr)
				now = rc.c.now()
			}
		}
		if p == nil {
			p = rc.newResponse(rec, lr, fr, requested, now)
			p.fwdStatus = p.status
		}
		fh := rc.forwardHeader(rec.header)
		if len(fh["Date"]) == 0 {
			// RFC 9110 section 6.6.1: forwarded with the Date recorded
			// on receipt, the one the stored copy carries.
			fh["Date"] = p.header["Date"]
		}
		if cl, ok := p.header["Content-Length"]; ok && len(fh["Content-Length"]) == 0 {
			// The body is sent whole from the buffer: its length is
			// known, and a HEAD (answered from a GET) gets it as a GET
			// would (RFC 9110 section 9.3.2), as from the store.
			fh["Content-Length"] = cl
		}
		if p.fwdStatus == http.StatusNotModified {
			// The client gets the updated stored response, with the
			// 304's own fields over it.
			for k, v := range p.header {
				if _, ok := fh[k]; !ok {
					fh[k] = v
				}
			}
			fh["Content-Length"] = p.header["Content-Length"]
		}
		t.setHeader(fh)
		if serverError(p.status) && (!p.stored || stale != nil && !stale.noStale && now.Before(se.sie)) {
			// A failure: not stored, so that the stale response it
			// would replace can still be served (stale-if-error).
			fr.noStore = true
			return p, errServerError
		}
		rc.place(key, p, fr, now)
		return p, nil
	}
}

// revalidated returns the stored response old updated with the 304 in
// rec (RFC 9111 sections 3.2 and 4.3.4), or nil when the 304 does not
// select it: its validators name another representation.
func (rc *ResponseCache) revalidated(old *response, rec *recorder, r *http.Request, fr *freshness, requested, now time.Time) *response {
	if !selects(rec.header, old) {
		return nil
	}
	h := make(http.Header, len(old.header)+len(rec.header))
	for k, v := range old.header {
		if k == "Etag" && old.ownETag {
			continue // recomputed from the same body
		}
		h[k] = v
	}
	if len(old.upstream) > 0 {
		h["Cache-Status"] = old.upstream
	}
	if _, ok := rec.header["Date"]; !ok {
		delete(h, "Date") // the stored one is old: the 304's time is now
	}
	for k, v := range rec.header {
		if k != "Content-Length" {
			h[k] = v
		}
	}
	upd := &recorder{header: h, status: old.status, body: old.body}
	p := rc.newResponse(upd, r, fr, requested, now)
	p.fwdStatus = http.StatusNotModified
	return p
}

// updateVariants applies a 304 that carries a strong ETag to the other
// stored Vary variants of key's URL with that same ETag (RFC 9111
// section 4.3.4: every stored response a strong validator selects),
// so they need no request of their own. It finds them through the URL's
// Vary record, which lists up to maxListedVariants of them.
func (rc *ResponseCache) updateVariants(key reqKey, old *response, h http.Header, r *http.Request, requested, now time.Time) {
	et := h["Etag"]
	if !rc.anyVary.Load() || len(et) == 0 || strings.HasPrefix(et[0], "W/") {
		return
	}
	idx := key
	idx.vary, idx.index = "", true
	rec, ok := rc.c.Peek(idx)
	if !ok {
		return
	}
	for _, vk := range rec.variants {
		if vk == old.varyKey {
			continue
		}
		k := key
		k.vary = vk
		s := rc.c.shard(k)
		s.mu.Lock()
		e, ok := s.peek(k)
		s.mu.Unlock()
		if !ok || e.val.etag != et[0] || e.val.ownETag {
			continue
		}
		var fr freshness
		p := rc.revalidated(e.val, &recorder{header: h}, r, &fr, requested, now)
		if p == nil || !p.stored {
			continue
		}
		p.vary, p.varyKey, p.keyParam = e.val.vary, e.val.varyKey, e.val.keyParam
		rc.c.setFresh(k, p, &fr, now)
	}
}

// maxListedVariants bounds the variants a Vary record lists for
// updateVariants; more may be stored, and revalidate on their own.
const maxListedVariants = 16

// selects reports whether a 304 with fields h selects the stored
// response old for update (RFC 9111 section 4.3.4): a strong ETag must
// equal old's strongly, a weak one weakly, a Last-Modified alone must
// equal old's; a 304 with no validator answers the conditional request
// made from old's own validators, so it selects old.
func selects(h http.Header, old *response) bool {
	if et := h["Etag"]; len(et) > 0 {
		if old.etag == "" || old.ownETag {
			return false
		}
		tag := et[0]
		if !strings.HasPrefix(tag, "W/") {
			return tag == old.etag
		}
		return strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(old.etag, "W/")
	}
	if lm := h["Last-Modified"]; len(lm) > 0 {
		return lm[0] == old.lastMod
	}
	return true
}

// place keeps the URL's Vary record up to date from p and, when p varies
// on other fields than key was built with, has the load store p under
// its own key instead (when the load completes, so that Invalidate,
// Purge, Close and the load timeout apply to it as to any other).
func (rc *ResponseCache) place(key reqKey, p *response, fr *freshness, now time.Time) {
	if !p.stored {
		return
	}
	idx := key
	idx.vary, idx.index = "", true
	if len(p.vary) > 0 {
		rec := &response{index: true, vary: p.vary}
		if old, ok := rc.c.Peek(idx); ok && equalNames(old.vary, p.vary) {
			rec.variants = old.variants
		}
		if !slices.Contains(rec.variants, p.varyKey) && len(rec.variants) < maxListedVariants {
			rec.variants = append(slices.Clip(rec.variants), p.varyKey)
		}
		rc.c.setFresh(idx, rec, &freshness{ttl: forever, ttlSet: true}, now)
		rc.anyVary.Store(true)
	} else if rc.anyVary.Load() {
		rc.c.Delete(idx)
	}
	own := key
	own.vary = p.varyKey
	if own != key {
		fr.key = own
	}
	if rc.cfg.http.statusKey && rc.statusName != "" {
		p.keyParam = "; key=" + sfString(own.host+own.path+queryPart(own.query)+varyPart(own.vary))
	}
}

// refresh starts a background load revalidating the stale (or soon
// stale) entry e, unless one runs already. The request is cloned now,
// since r is done with once the stale response is sent.
func (rc *ResponseCache) refresh(next http.Handler, r *http.Request, s *shard[reqKey, *response], key reqKey, e *entry[*response], now time.Time) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	snapshot := r.Clone(context.WithoutCancel(r.Context()))
	rc.c.startRefresh(snapshot.Context(), s, key, rc.loader(next, snapshot, e, nil), now)
}

func (rc *ResponseCache) fail(w http.ResponseWriter, r *http.Request, err error) {
	if rc.cfg.errorHandler != nil {
		rc.cfg.errorHandler(w, r, err)
		return
	}
	httpx.WriteError(w, r, err)
}

// WithMaxBodyBytes caps the body of a response a ResponseCache stores
// (default 1 MiB). A larger response is still sent to the client that
// asked for it, but not stored or shared.
func WithMaxBodyBytes(n int64) Option {
	return httpOnly("WithMaxBodyBytes", func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("cache: WithMaxBodyBytes: %d is below 1", n))
			return
		}
		c.maxBody = n
	})
}

// WithMaxBytes bounds the total size of the responses a ResponseCache
// stores, bodies, headers and keys (URL and Vary values) (default 64 MiB).
func WithMaxBytes(n int64) Option {
	return httpOnly("WithMaxBytes", func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("cache: WithMaxBytes: %d is below 1", n))
			return
		}
		c.maxBytes = n
	})
}

// WithETag makes a ResponseCache give stored 200 responses without an
// ETag a strong one computed from the body (default on), so clients can
// revalidate with If-None-Match and get 304 Not Modified.
func WithETag(on bool) Option {
	return httpOnly("WithETag", func(c *config) { c.etag = on })
}

// WithErrorHandler replaces how a ResponseCache answers when it has no
// response to send: a load that timed out (504), a closed cache (503), a
// handler that panicked (500). The default is httpx.WriteError
// (application/problem+json).
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return httpOnly("WithErrorHandler", func(c *config) {
		if h == nil {
			c.fail(errors.New("cache: WithErrorHandler: nil handler"))
			return
		}
		c.errorHandler = h
	})
}

// httpConfig holds the ResponseCache options added with RFC 9111
// conformance; zero values are the defaults.
type httpConfig struct {
	heuristic     time.Duration // WithHeuristicFreshness cap; 0: off
	unstored      []string      // canonical names
	targeted      []string      // canonical names
	targetedSet   bool
	hideTargeted  bool
	noCacheStatus bool
	statusKey     bool
	onInvalidate  func(ctx context.Context, host, uri string)
}

// WithHeuristicFreshness lets a ResponseCache give a response without
// explicit freshness (no max-age, s-maxage or Expires) that is
// heuristically cacheable (a 200, 203, 204, 300, 301, 308, 404, 405, 410,
// 414 or 501, or marked public) and has a Last-Modified a lifetime of
// 10% of the time since that modification, at most max (RFC 9111 section
// 4.2.2). Off by default; WithTTL, when given, takes precedence.
func WithHeuristicFreshness(max time.Duration) Option {
	return httpOnly("WithHeuristicFreshness", func(c *config) {
		if positive(c, "WithHeuristicFreshness", max) {
			c.http.heuristic = max
		}
	})
}

// WithUnstoredFields adds response fields that a ResponseCache never
// stores, so never sends from the store: fields a handler or an outer
// middleware sets per request. They add to the built-in list: hop-by-hop
// fields and those named in Connection, Age and Cache-Status (computed
// by the cache), X-Correlation-Id, X-Request-Id, Traceparent, Tracestate,
// Server-Timing and the RateLimit fields. The request that loaded a
// response still gets the handler's own values.
func WithUnstoredFields(names ...string) Option {
	return httpOnly("WithUnstoredFields", func(c *config) {
		for _, n := range names {
			if !validFieldName(n) {
				c.fail(fmt.Errorf("cache: WithUnstoredFields: %q is not a field name", n))
				return
			}
			c.http.unstored = append(c.http.unstored, http.CanonicalHeaderKey(n))
		}
	})
}

// WithTargetedCacheControl names the targeted cache-control fields (RFC
// 9213) a ResponseCache obeys, in order of precedence (default
// CDN-Cache-Control, as a shared cache at the edge). The first of them
// that a response carries with a valid, non-empty value (a Structured
// Field Dictionary) replaces its Cache-Control and Expires for this
// cache's decisions; one that fails to parse is ignored. Give a name of
// your own, such as "Paved-Cache-Control", to let an upstream speak to
// this cache alone; give none to obey Cache-Control only.
func WithTargetedCacheControl(names ...string) Option {
	return httpOnly("WithTargetedCacheControl", func(c *config) {
		c.http.targeted, c.http.targetedSet = nil, true
		for _, n := range names {
			if !validFieldName(n) || strings.EqualFold(n, "Cache-Control") {
				c.fail(fmt.Errorf("cache: WithTargetedCacheControl: %q is not a targeted field name", n))
				return
			}
			c.http.targeted = append(c.http.targeted, http.CanonicalHeaderKey(n))
		}
	})
}

// WithForwardTargetedCacheControl(false) removes the targeted fields this
// cache obeys from the responses it sends, stored or forwarded, as a CDN
// does with its own field. By default they are forwarded, for caches
// further downstream that obey them too.
func WithForwardTargetedCacheControl(on bool) Option {
	return httpOnly("WithForwardTargetedCacheControl", func(c *config) { c.http.hideTargeted = !on })
}

// WithCacheStatus turns the Cache-Status response field (RFC 9211) on or
// off (default on). The cache adds its member, identified by its name,
// after those of the caches upstream: "hit" with "ttl" (seconds of
// freshness left, negative when stale) for a response from the store;
// "fwd" (uri-miss, vary-miss, stale, request, method, bypass), with
// "fwd-status", "stored", "ttl" and "collapsed", for one from the
// handler.
func WithCacheStatus(on bool) Option {
	return httpOnly("WithCacheStatus", func(c *config) { c.http.noCacheStatus = !on })
}

// WithCacheStatusKey adds the "key" parameter, the stored response's
// cache key (host, path, query and Vary values), to Cache-Status (default
// off: it shows other clients' Vary values, such as their languages).
func WithCacheStatusKey(on bool) Option {
	return httpOnly("WithCacheStatusKey", func(c *config) { c.http.statusKey = on })
}

// WithInvalidationHook calls fn after a ResponseCache invalidates a URI
// because an unsafe request to it, or naming it in Location or
// Content-Location, succeeded (RFC 9111 section 4.4), with the request's
// context, host and the URI's path and query. It runs in the request's
// goroutine before the response is sent, so keep it short: it is the seam
// through which a fleet drops a resource together (publish host and uri;
// the other instances call InvalidateURI), and where the planned shared
// second level will delete its copy.
func WithInvalidationHook(fn func(ctx context.Context, host, uri string)) Option {
	return httpOnly("WithInvalidationHook", func(c *config) {
		if fn == nil {
			c.fail(errors.New("cache: WithInvalidationHook: nil function"))
			return
		}
		c.http.onInvalidate = fn
	})
}

func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isTchar(n[i]) {
			return false
		}
	}
	return true
}
