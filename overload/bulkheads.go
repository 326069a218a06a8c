package overload

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/paved-go/paved/internal/registry"
)

// DefaultMaxKeys is the number of bulkheads a Bulkheads registry holds
// unless WithMaxKeys says otherwise.
const DefaultMaxKeys = 10_000

// Bulkheads holds one Bulkhead per key (a route, a tenant, an upstream
// host), created on first use with the registry's cap and options. It is
// safe for concurrent use; looking up an existing key takes no lock.
//
// It holds at most WithMaxKeys bulkheads. A new key evicts the oldest
// idle bulkhead (none in flight, none queued);
// a bulkhead with calls in flight is never forgotten, since a fresh one
// for its key would admit a second full cap. When every held bulkhead is
// busy, new keys share one overflow bulkhead with the same cap until one
// becomes idle. All the bulkheads report paved.overload.decisions under
// the registry's name (keys such as tenant ids never become metric
// attributes) and no per-key limit gauge.
type Bulkheads struct {
	cfg      config
	name     string
	cap      int
	metrics  gate // holds the shared instruments
	m        sync.Map
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *Bulkhead]
	overflow *Bulkhead
	handler  httpHandling
	key      func(*http.Request) string
	shedRate *registry.PerMinute // nil when not registered
}

// NewBulkheads returns an empty registry of bulkheads, each admitting at
// most maxConcurrent calls, named name in metrics. It accepts the options
// of NewBulkhead, WithMaxKeys and WithRequestKey.
func NewBulkheads(name string, maxConcurrent int, opts ...Option) (*Bulkheads, error) {
	c := newConfig()
	c.bulkhead.maxKeys = DefaultMaxKeys
	err := applyOptions(&c, forBulkheads, opts)
	if name == "" {
		err = errors.Join(err, errors.New("overload: NewBulkheads: empty name"))
	}
	if maxConcurrent < 1 {
		err = errors.Join(err, errors.New("overload: NewBulkheads: maxConcurrent must be at least 1"))
	}
	if err != nil {
		return nil, err
	}
	r := &Bulkheads{cfg: c, name: name, cap: maxConcurrent, handler: c.httpHandling(), key: c.bulkhead.requestKey}
	if r.key == nil {
		r.key = func(req *http.Request) string { return req.Pattern }
	}
	if err := r.metrics.init(&c, name, int64(maxConcurrent), [3]float64{1, 1, 1}, false, 0, 0, c.retryAfter); err != nil {
		return nil, err
	}
	r.lru, _ = simplelru.NewLRU[string, *Bulkhead](c.bulkhead.maxKeys, nil)
	if r.overflow, err = newBulkhead(&c, name, maxConcurrent, &r.metrics); err != nil {
		return nil, err
	}
	r.register()
	return r, nil
}

// Get returns the bulkhead for key, creating it on first use, or the
// shared overflow bulkhead when the registry is full of busy ones.
func (r *Bulkheads) Get(key string) *Bulkhead {
	if v, ok := r.m.Load(key); ok {
		return v.(*Bulkhead)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.m.Load(key); ok {
		return v.(*Bulkhead)
	}
	if r.lru.Len() >= r.cfg.bulkhead.maxKeys && !r.evictIdleLocked() {
		return r.overflow
	}
	b, err := newBulkhead(&r.cfg, r.name, r.cap, &r.metrics)
	if err != nil { // cannot happen: the options were validated
		return r.overflow
	}
	r.lru.Add(key, b)
	r.m.Store(key, b)
	return b
}

// evictIdleLocked forgets the least recently used idle bulkhead.
func (r *Bulkheads) evictIdleLocked() bool {
	for _, k := range r.lru.Keys() { // oldest first
		b, _ := r.lru.Peek(k)
		if b.g.inflight.Load() == 0 && b.g.waiting.Load() == 0 {
			r.lru.Remove(k)
			r.m.Delete(k)
			return true
		}
	}
	return false
}

// Acquire takes a slot of key's bulkhead; see Bulkhead.Acquire.
func (r *Bulkheads) Acquire(ctx context.Context, key string) (release func(), err error) {
	return r.Get(key).Acquire(ctx)
}

// Len reports how many bulkheads the registry holds, the overflow one
// aside.
func (r *Bulkheads) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// Middleware returns next wrapped so that each request holds a slot of
// its key's bulkhead (WithRequestKey; by default the ServeMux pattern,
// r.Pattern, so put it inside the mux) while next serves it. On a nil
// *Bulkheads it limits nothing and logs that at Error.
func (r *Bulkheads) Middleware(next http.Handler) http.Handler {
	if r == nil {
		slog.Error("overload: Middleware of a nil *Bulkheads: nothing is limited")
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.handler.filter != nil && !r.handler.filter(req) {
			next.ServeHTTP(w, req)
			return
		}
		release, err := r.Get(r.key(req)).Acquire(req.Context())
		if err != nil {
			r.handler.onError(w, req, err)
			return
		}
		defer release()
		next.ServeHTTP(w, req)
	})
}

// WithMaxKeys bounds a Bulkheads registry to n bulkheads (default
// DefaultMaxKeys).
func WithMaxKeys(n int) Option {
	return newOption("WithMaxKeys", forBulkheads, func(c *config) error {
		if n < 1 {
			return errors.New("overload: WithMaxKeys: must be at least 1, got " + strconv.Itoa(n))
		}
		c.bulkhead.maxKeys = n
		return nil
	})
}

// WithRequestKey sets how a Bulkheads registry's Middleware keys a
// request (default: its ServeMux pattern). Keys such as tenant ids are
// fine: they never become metric attributes.
func WithRequestKey(f func(*http.Request) string) Option {
	return newOption("WithRequestKey", forBulkheads, func(c *config) error {
		if f == nil {
			return errors.New("overload: WithRequestKey: nil function")
		}
		c.bulkhead.requestKey = f
		return nil
	})
}
