package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/paved-go/paved/internal/otelx"
)

// Registry holds one breaker per key (an upstream host, a route, a
// tenant), created on first use with the registry's options. It is safe
// for concurrent use; looking up an existing key takes no lock.
//
// # Bounded, and open breakers are not forgotten
//
// A Registry keeps at most MaxKeys (WithMaxKeys, default 10,000) breakers
// in LRU order (golang-lru/v2). When a new key pushes out the least
// recently used one, what happens depends on that breaker:
//   - open within its open duration, or half-open with probes in flight:
//     it is parked beside the LRU and its key keeps finding it, so it
//     keeps rejecting until it has served its open time. Using a parked
//     key moves it back into the LRU;
//   - closed, or past its open duration with no probe in flight (its next
//     call would be a probe): it is forgotten, and the key's next use
//     starts a fresh closed breaker. A parked breaker nobody calls is
//     forgotten the same way once its open time is over.
//
// So eviction never silently closes an open breaker: a key in use keeps
// its breaker, and an idle one loses it only after serving its open
// time, when the worst case is that a fresh breaker lets its first calls
// through instead of a few probes. Parked
// breakers are bounded too, by MaxKeys, so a registry holds at most twice
// MaxKeys breakers; should that many be open at once, the one parked
// longest is forgotten with a Warn log line.
//
// The key becomes the breaker's name and, unless WithMetricName is given,
// the paved.breaker.name attribute of its metrics: keep keys
// low-cardinality (routes, hosts), or use WithMetricName for keys such as
// tenant ids.
type Registry struct {
	cfg   *config
	calls *otelx.Counter // shared by all breakers, with WithMetricName

	m sync.Map // key -> *entry: every breaker of the registry, parked ones too

	// clock ticks every tick inserts (MaxKeys/16). An entry moves to the
	// front of the LRU on its first use after a tick, so hits between
	// ticks need no lock and no write. A key used since the last tick is
	// still never evicted before one that was not, since both promotions
	// and inserts go to the front.
	clock atomic.Uint64
	tick  int

	mu         sync.Mutex // guards what follows
	lru        *simplelru.LRU[string, *entry]
	parked     *simplelru.LRU[string, *entry]
	inserts    int // since the clock last ticked
	sinceSweep int // inserts since parked was last swept
}

type entry struct {
	b    *Breaker
	seen atomic.Uint64 // clock at the last move to the front; notSeen while parked
}

// notSeen is the seen of a parked entry: no clock value matches it, so
// the key's next use takes the lock and moves it back into the LRU.
const notSeen = ^uint64(0)

// WithMaxKeys bounds a Registry to n breakers in its LRU (default 10,000).
// Registry only.
func WithMaxKeys(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.fail(fmt.Errorf("breaker: WithMaxKeys: %d is below 1", n))
			return
		}
		c.maxKeys = n
		c.registryOnly("WithMaxKeys")
	})
}

// WithRequestKey sets how a Registry's Middleware and Transport key a
// request (default: the ServeMux pattern for Middleware, the host for
// Transport). Registry only.
func WithRequestKey(key func(*http.Request) string) Option {
	return optionFunc(func(c *config) {
		if key == nil {
			c.fail(errors.New("breaker: WithRequestKey: nil function"))
			return
		}
		c.requestKey = key
		c.registryOnly("WithRequestKey")
	})
}

// WithMetricName records the calls of all of a Registry's breakers in
// paved.breaker.calls under this one name, and records no per-breaker
// paved.breaker.state, for keys too many to be metric attributes. Registry
// only.
func WithMetricName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.fail(errors.New("breaker: WithMetricName: empty name"))
			return
		}
		c.metricName = name
		c.registryOnly("WithMetricName")
	})
}

func (c *config) registryOnly(option string) {
	if c.registry == "" {
		c.registry = option
	}
}

// NewRegistry returns an empty Registry whose breakers are configured by
// opts. It fails on an invalid option.
func NewRegistry(opts ...Option) (*Registry, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, tick: max(cfg.maxKeys/16, 1)}
	// Sizes are checked above; we evict ourselves before each Add, so
	// the LRUs need no callbacks.
	r.lru, _ = simplelru.NewLRU[string, *entry](cfg.maxKeys, nil)
	r.parked, _ = simplelru.NewLRU[string, *entry](cfg.maxKeys, nil)
	if cfg.name != "" {
		r.register()
	}
	if cfg.metricName != "" {
		if r.calls, err = otelx.BreakerCalls(cfg.mp, cfg.metricName); err != nil {
			return nil, errors.New("breaker: " + err.Error())
		}
		return r, nil
	}
	// One callback observes every breaker the registry still holds, so a
	// forgotten breaker's paved.breaker.state series ends with it. It
	// holds r weakly, so it does not keep a dropped Registry alive.
	wr := weak.Make(r)
	reg, err := otelx.BreakerStates(cfg.mp, func(o otelx.StateObserver) {
		if r := wr.Value(); r != nil {
			r.observe(o)
		}
	})
	if err != nil {
		return nil, errors.New("breaker: " + err.Error())
	}
	if reg != nil {
		runtime.AddCleanup(r, unregister, reg)
	}
	return r, nil
}

func (r *Registry) observe(o otelx.StateObserver) {
	now := time.Now()
	r.m.Range(func(_, v any) bool {
		v.(*entry).b.observe(o, now)
		return true
	})
}

// Get returns the breaker for key, creating it on first use.
func (r *Registry) Get(key string) *Breaker {
	if v, ok := r.m.Load(key); ok {
		e := v.(*entry)
		if c := r.clock.Load(); e.seen.Load() != c {
			r.touch(key, e, c)
		}
		return e.b
	}
	return r.create(key)
}

// Len reports how many breakers the registry holds, parked ones included.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len() + r.parked.Len()
}

// touch moves e to the front of the LRU, or back into it from parked.
func (r *Registry) touch(key string, e *entry, c uint64) {
	var forgotten string
	r.mu.Lock()
	if _, ok := r.lru.Get(key); !ok {
		if p, ok := r.parked.Peek(key); ok && p == e {
			r.parked.Remove(key)
			forgotten = r.makeRoom(time.Now())
			r.lru.Add(key, e)
		}
	}
	e.seen.Store(c)
	r.mu.Unlock()
	r.logForgotten(forgotten)
}

func (r *Registry) create(key string) *Breaker {
	// Built before taking the lock: it calls the MeterProvider and may
	// log, user code that must not run under the registry's mutex. A
	// breaker built for a key another goroutine created first is dropped.
	b := r.newBreaker(key)
	r.mu.Lock()
	if v, ok := r.m.Load(key); ok { // created while we waited
		r.mu.Unlock()
		return v.(*entry).b
	}
	now := time.Now()
	r.sweep(now)
	forgotten := r.makeRoom(now)
	if r.inserts++; r.inserts >= r.tick {
		r.inserts = 0
		r.clock.Add(1)
	}
	e := &entry{b: b}
	e.seen.Store(r.clock.Load())
	r.lru.Add(key, e)
	r.m.Store(key, e)
	r.mu.Unlock()
	r.logForgotten(forgotten)
	return e.b
}

// makeRoom evicts from the LRU until one more entry fits. It returns the
// key of an open breaker it had to forget because the parked list was
// full too (at most one per call: it makes room for one entry), for the
// caller to log once the lock is released.
func (r *Registry) makeRoom(now time.Time) (forgotten string) {
	for r.lru.Len() >= r.cfg.maxKeys {
		key, e, _ := r.lru.RemoveOldest()
		if !e.b.holdsOpen(now) {
			r.m.CompareAndDelete(key, e)
			continue
		}
		if r.parked.Len() >= r.cfg.maxKeys {
			k, old, _ := r.parked.RemoveOldest()
			r.m.CompareAndDelete(k, old)
			forgotten = k
		}
		e.seen.Store(notSeen)
		r.parked.Add(key, e)
	}
	return forgotten
}

func (r *Registry) logForgotten(key string) {
	if key != "" {
		r.cfg.log().LogAttrs(context.Background(), slog.LevelWarn, "breaker registry full: forgot an open breaker",
			slog.String("breaker", key), slog.Int("max_keys", r.cfg.maxKeys))
	}
}

// sweep forgets parked breakers that no longer hold anything open. It
// runs at most once per as many inserts as there are parked breakers, so
// inserts stay O(1) amortized.
func (r *Registry) sweep(now time.Time) {
	if r.parked.Len() == 0 {
		return
	}
	if r.sinceSweep++; r.sinceSweep < r.parked.Len() {
		return
	}
	r.sinceSweep = 0
	for _, key := range r.parked.Keys() {
		if e, ok := r.parked.Peek(key); ok && !e.b.holdsOpen(now) {
			r.parked.Remove(key)
			r.m.CompareAndDelete(key, e)
		}
	}
}

func (r *Registry) newBreaker(key string) *Breaker {
	if r.cfg.metricName != "" {
		return newBreaker(key, r.cfg, r.calls, nil)
	}
	// Metric errors cannot fail a call: nil instruments record nothing.
	calls, err := otelx.BreakerCalls(r.cfg.mp, key)
	if err != nil {
		r.cfg.log().Error("breaker: metrics unavailable", slog.String("breaker", key), slog.String("error", err.Error()))
	}
	return newBreaker(key, r.cfg, calls, otelx.NewBreakerStateSeries(key))
}

// holdsOpen reports whether forgetting b could let through calls it would
// reject: it is open within its open duration, or half-open with probes in
// flight.
func (b *Breaker) holdsOpen(now time.Time) bool {
	if o := b.open.Load(); o != nil && now.Before(o.until) {
		return true
	}
	if State(b.state.Load()) == StateClosed {
		return false
	}
	c := b.cb.Counts() // since the last transition; an open breaker admits none
	return c.Requests > c.TotalSuccesses+c.TotalFailures+c.TotalExclusions
}
