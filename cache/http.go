package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/paved-go/paved/internal/httpx"
)

// ResponseCache caches the GET and HEAD responses of a service's own
// handlers by the rules of RFC 9111 that matter for an API; see the
// package documentation for the rules. It is safe for concurrent use.
type ResponseCache struct {
	c       *Cache[reqKey, *response]
	cfg     *config
	varies  *lru.Cache[reqKey, []string] // Vary names by URL, learned from responses
	anyVary atomic.Bool                  // skips the varies lookup until a response varies
}

// reqKey is a response's cache key: the target URI and the request's
// values of the fields the response varies on. GET and HEAD share it.
type reqKey struct {
	host, path, rawPath, query string
	vary                       string
}

// errServerError marks a 5xx response as a failed load, for
// stale-if-error; the response travels with it.
var errServerError = errors.New("cache: handler answered with a server error")

// NewResponseCache returns a response cache named name (the
// paved.cache.name metric attribute), configured by opts. It fails on an
// empty name, an invalid option or one meant for a Cache only (WithOnEvict,
// WithMaxCost, WithNegativeCache). Unless WithShards says otherwise it
// keeps one shard: an HTTP request costs far more than the lock, and one
// shard keeps the byte bound and the LRU order exact.
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
	varies, err := lru.New[reqKey, []string](cfg.maxKeys)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &ResponseCache{c: c, cfg: cfg, varies: varies}, nil
}

// Middleware caches next's responses with a ResponseCache named
// "default" with default options, which stores only responses that state their freshness
// (max-age, s-maxage or Expires). Use NewResponseCache for other options,
// for Stats, or to Close it.
func Middleware(next http.Handler) http.Handler {
	rc, _ := NewResponseCache("default") // the defaults are valid
	return rc.Middleware(next)
}

// Middleware returns next with its GET and HEAD responses cached. Other
// methods, requests with Cache-Control: no-store, and upgrade requests
// pass straight through.
func (rc *ResponseCache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.serve(next, w, r)
	})
}

// Stats returns the cache's counters, as Cache.Stats.
func (rc *ResponseCache) Stats() Stats { return rc.c.Stats() }

// Len returns the number of stored responses.
func (rc *ResponseCache) Len() int { return rc.c.Len() }

// Purge removes every stored response.
func (rc *ResponseCache) Purge() {
	rc.c.Purge()
	rc.varies.Purge()
}

// Invalidate removes every stored response for path (r.URL.Path), for
// any host, query and Vary values, and makes loads of it running now
// store nothing: call it after a change to the resource, so the next GET
// sees it. It visits every stored response.
func (rc *ResponseCache) Invalidate(path string) {
	rc.c.deleteMatching(func(k reqKey) bool { return k.path == path })
}

// Close stops background refreshes and waits for running loads, as
// Cache.Close. Afterwards requests that miss get 503.
func (rc *ResponseCache) Close() error { return rc.c.Close() }

// serve answers r from a stored response when it may, and otherwise
// through miss.
func (rc *ResponseCache) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || len(r.Header["Upgrade"]) > 0 {
		next.ServeHTTP(w, r)
		return
	}
	req := directives{maxAge: -1}
	if v := r.Header["Cache-Control"]; len(v) > 0 {
		req = parseCacheControl(v)
	} else if p := r.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		req.noCache = true // RFC 9111 section 5.4, for HTTP/1.0 clients
	}
	if req.noStore {
		next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	key := reqKey{host: r.Host, path: r.URL.Path, rawPath: r.URL.RawPath, query: r.URL.RawQuery}
	var names []string
	if rc.anyVary.Load() {
		names, _ = rc.varies.Get(key)
		key.vary = varyValues(names, r.Header)
	}
	c := rc.c
	now := rc.c.now()
	s := c.shard(key)
	var e *entry[*response]
	if !req.noCache {
		e = s.get(key)
	}
	if e != nil && e.val.matches(r, key, names) && (req.maxAge < 0 || e.val.currentAge(now) <= req.maxAge) {
		if now.Before(e.fresh) {
			if c.cfg.beta > 0 && c.earlyDue(e, now) {
				rc.refresh(next, r, s, key, e, now)
			}
			c.served(ctx, s, e)
			e.val.write(w, r, now)
			return
		}
		if now.Before(e.swr) {
			rc.refresh(next, r, s, key, e, now)
			c.servedStale(ctx, s, e, staleRevalidate)
			e.val.write(w, r, now)
			return
		}
	} else {
		e = nil // nothing usable to fall back on
	}
	rc.miss(next, w, r, s, key, names, e, req.noCache || req.maxAge >= 0, now)
}

// miss answers r from the load of key: its own, or one running already.
// stale is the expired entry to fall back on for stale-if-error, or nil;
// force skips a fresh entry stored since the lookup.
func (rc *ResponseCache) miss(next http.Handler, w http.ResponseWriter, r *http.Request, s *shard[reqKey, *response], key reqKey, names []string, stale *entry[*response], force bool, now time.Time) {
	c, ctx := rc.c, r.Context()
	f, leader, hit, err := c.join(ctx, s, key, rc.loader(next, r), now, force)
	if err != nil {
		c.requests.Add(ctx, resultError)
		rc.fail(w, r, err)
		return
	}
	if hit != nil {
		if !hit.val.matches(r, key, names) {
			next.ServeHTTP(w, r) // a response for other Vary values raced in
			return
		}
		c.served(ctx, s, hit)
		hit.val.write(w, r, now)
		return
	}
	if err := c.wait(ctx, f); err != nil {
		s.stats.loaded(leader, nil)
		rc.fail(w, r, err) // 504 past the request's deadline; nobody reads a 499
		return
	}
	p := f.val
	now = c.now() // the wait may have been long: ages are as of sending
	if f.err != nil {
		if stale != nil && now.Before(stale.sie) {
			c.servedStale(ctx, s, stale, staleError)
			stale.val.write(w, r, now)
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
	if !leader && (!p.shared || !p.matches(r, key, names)) {
		c.requests.Add(ctx, resultCoalesced)
		next.ServeHTTP(w, r) // not for us: ask the handler ourselves
		return
	}
	if f.err != nil {
		c.requests.Add(ctx, resultError)
	} else {
		c.requests.Add(ctx, loadResult(leader))
	}
	p.write(w, r, now)
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

// loader returns the load function for a miss of r: it serves a copy of
// r (GET, no body, no conditional fields, the load's context) to next
// into a recorder.
func (rc *ResponseCache) loader(next http.Handler, r *http.Request) func(context.Context, reqKey) (*response, error) {
	return func(ctx context.Context, key reqKey) (*response, error) {
		lr := r.Clone(ctx)
		lr.Method = http.MethodGet
		lr.Body, lr.GetBody, lr.ContentLength = http.NoBody, nil, 0
		for _, f := range [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"} {
			delete(lr.Header, f)
		}
		rec := &recorder{header: make(http.Header), limit: rc.cfg.maxBody}
		next.ServeHTTP(rec, lr)
		fr := freshnessOf(ctx)
		p := rc.newResponse(rec, lr, fr, rc.c.now())
		rc.place(key, p, fr)
		if serverError(p.status) {
			return p, errServerError
		}
		return p, nil
	}
}

// place keeps the Vary names learned from p and, when p varies on other
// fields than key was built with, has the load store p under its own key
// instead (when the load completes, so that Invalidate, Purge, Close and
// the load timeout apply to it as to any other).
func (rc *ResponseCache) place(key reqKey, p *response, fr *freshness) {
	if !p.shared {
		return
	}
	own := key
	own.vary = p.varyKey
	url := key
	url.vary = ""
	if len(p.vary) > 0 {
		rc.varies.Add(url, p.vary)
		rc.anyVary.Store(true)
	} else if rc.anyVary.Load() {
		rc.varies.Remove(url)
	}
	if own != key {
		fr.key = own
	}
}

// refresh starts a background load replacing the stale (or soon stale)
// entry e, unless one runs already. The request is cloned now, since r is
// done with once the stale response is sent.
func (rc *ResponseCache) refresh(next http.Handler, r *http.Request, s *shard[reqKey, *response], key reqKey, e *entry[*response], now time.Time) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	snapshot := r.Clone(context.WithoutCancel(r.Context()))
	rc.c.startRefresh(snapshot.Context(), s, key, rc.loader(next, snapshot), now)
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
