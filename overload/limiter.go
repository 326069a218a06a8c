package overload

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// Algorithm is how a Limiter adapts its concurrency limit to measured
// latency.
type Algorithm uint8

const (
	// Gradient2 multiplies the limit by the gradient between the no-load
	// RTT (times the tolerance) and the average RTT of the last window,
	// clamped to [0.5, 1]; while there is no queueing (gradient 1) it adds
	// sqrt(limit) of headroom, smoothed by 0.2 (after Netflix's
	// concurrency-limits Gradient2Limit). It is the default.
	Gradient2 Algorithm = iota
	// AIMD adds one to the limit after each window whose RTT stays within
	// the tolerance of the no-load RTT, and multiplies it by 0.9 after one
	// that does not.
	AIMD
)

// String returns "Gradient2" or "AIMD".
func (a Algorithm) String() string {
	if a == AIMD {
		return "AIMD"
	}
	return "Gradient2"
}

// Defaults of NewLimiter.
const (
	DefaultMinLimit       = 3
	DefaultMaxLimit       = 1000
	DefaultInitialLimit   = 20
	DefaultTolerance      = 1.05
	DefaultWindow         = 100 * time.Millisecond
	DefaultMinRTTInterval = time.Minute
)

const (
	smoothing    = 0.2  // Gradient2's weight of the sqrt(limit) growth step
	backoff      = 0.9  // AIMD's decrease factor
	probeSamples = 50   // samples that measure the no-load RTT (Envoy's default)
	probeJitter  = 0.15 // +-15% on the interval between measurements
	probeWindows = 10   // a measurement ends after this many windows with a sample

	// A window's samples are one atomic word: up to 2^24 samples, and an
	// RTT sum of up to 2^40 × 16 ns (4.9 hours; by Little's law the sum is
	// about the calls in flight times the window: 1,000 × 100 ms = 100 s).
	countBits = 24
	rttUnit   = 16 // nanoseconds
)

// limiterConfig holds NewLimiter's settings.
type limiterConfig struct {
	algorithm      Algorithm
	minLimit       int
	maxLimit       int
	initialLimit   int
	tolerance      float64
	window         time.Duration
	minRTTInterval time.Duration
	shares         [3]float64
	classHeader    string
	routes         map[string]Class
	classifier     func(*http.Request) Class
	tenant         *tenantShare
}

// Limiter is an adaptive concurrency limit: it admits calls while fewer
// than its limit are in flight, and adapts the limit to the latency it
// measures, so that calls queue in the limiter's short LIFO queue (or are
// shed) rather than inside the service. Calls have a Class: under
// pressure Sheddable calls are shed first, then Default ones, while
// Critical ones keep the whole limit. Build it with NewLimiter; it is safe
// for concurrent use.
type Limiter struct {
	g        gate
	handler  httpHandling
	cfg      limiterConfig
	routeMux *http.ServeMux // finds the pattern of requests outside a mux

	_          [64]byte
	window     atomic.Uint64 // this window's samples: count in the low 24 bits, RTT sum in 16 ns units above
	_          [56]byte
	windowEnd  atomic.Int64 // nanotime
	sampleFrom atomic.Int64 // nanotime: calls started earlier are not sampled

	mu         sync.Mutex // guards the fields below and window updates
	limit      float64    // the adaptive limit (the saved one while probing)
	minRTT     time.Duration
	probing    bool
	probeStart int64 // nanotime
	probeSum   int64
	probeN     int64
	nextProbe  int64 // nanotime

	shedRate *registry.PerMinute // nil when not registered
}

// epoch is the origin of nanotime.
var epoch = time.Now()

// nanotime returns the monotonic time in nanoseconds since epoch: one
// clock reading, cheaper than time.Now.
func nanotime() int64 { return int64(time.Since(epoch)) }

// NewLimiter returns an adaptive concurrency limiter named name (the
// paved.overload.name metric attribute). It starts by measuring the
// no-load RTT at the minimum limit, then adapts from the initial limit.
// It accepts WithAlgorithm, WithLimits, WithInitialLimit, WithTolerance,
// WithWindow, WithMinRTTInterval, WithClassShares, WithQueue,
// WithMaxWait, WithRetryAfter, and, for Middleware, WithClassHeader,
// WithRouteClass, WithClassifier, WithDryRun, WithErrorHandler,
// WithFilter, WithLogger and WithMeterProvider.
func NewLimiter(name string, opts ...Option) (*Limiter, error) {
	c := newConfig()
	c.limiter = limiterConfig{
		minLimit:       DefaultMinLimit,
		maxLimit:       DefaultMaxLimit,
		initialLimit:   DefaultInitialLimit,
		tolerance:      DefaultTolerance,
		window:         DefaultWindow,
		minRTTInterval: DefaultMinRTTInterval,
		shares:         [3]float64{0.8, 0.95, 1},
	}
	err := applyOptions(&c, forLimiter, opts)
	if name == "" {
		err = errors.Join(err, errors.New("overload: NewLimiter: empty name"))
	}
	lc := c.limiter
	if lc.minLimit > lc.maxLimit {
		err = errors.Join(err, errors.New("overload: NewLimiter: minimum limit "+strconv.Itoa(lc.minLimit)+" above maximum "+strconv.Itoa(lc.maxLimit)))
	}
	if err != nil {
		return nil, err
	}
	l := &Limiter{handler: c.httpHandling(), cfg: lc}
	if len(lc.routes) > 0 {
		l.routeMux = http.NewServeMux()
		for p := range lc.routes {
			l.routeMux.Handle(p, http.NotFoundHandler())
		}
	}
	if err := l.g.init(&c, name, int64(lc.minLimit), lc.shares, true, c.queue, c.maxWait, c.retryAfter); err != nil {
		return nil, err
	}
	now := nanotime()
	l.limit = float64(min(max(lc.initialLimit, lc.minLimit), lc.maxLimit))
	l.windowEnd.Store(now + int64(lc.window))
	l.startProbeLocked(now)
	l.register()
	return l, nil
}

// Ticket is an admitted call's slot in a Limiter. Exactly one of Done or
// Drop must be called when the call ends. The zero Ticket does nothing.
type Ticket struct {
	l     *Limiter
	start int64 // nanotime
}

// Done frees the slot and records the call's round-trip time as a
// latency sample.
func (t Ticket) Done() {
	if t.l == nil {
		return
	}
	t.l.sample(t.start, nanotime())
	t.l.g.release()
}

// Drop frees the slot without a latency sample, for calls whose duration
// says nothing about the service's load (they failed before doing work,
// say).
func (t Ticket) Drop() {
	if t.l != nil {
		t.l.g.release()
	}
}

// Acquire takes a slot for a call of class c, waiting in the queue (LIFO,
// critical calls first) when the limiter is full and has one. It returns
// the call's Ticket, a *ShedError (errors.Is ErrShed) when the call is
// shed, or the context's error when ctx ends first. A Sheddable call is
// admitted only while fewer than 80% of the limit are in flight, a
// Default one below 95% (see WithClassShares). Admitting a call below the
// limit allocates nothing.
func (l *Limiter) Acquire(ctx context.Context, c Class) (Ticket, error) {
	if err := l.g.acquire(ctx, c.index()); err != nil {
		return Ticket{}, err
	}
	return Ticket{l: l, start: nanotime()}, nil
}

// Limit returns the current concurrency limit.
func (l *Limiter) Limit() int { return int(l.g.limit.Load()) }

// InFlight returns the number of admitted calls not yet done.
func (l *Limiter) InFlight() int { return int(l.g.inflight.Load()) }

// Queued returns the number of calls waiting for a slot.
func (l *Limiter) Queued() int { return int(l.g.waiting.Load()) }

// MinRTT returns the last measured no-load round-trip time, or 0 before
// the first measurement ends.
func (l *Limiter) MinRTT() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.minRTT
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.g.name }

// sample records the RTT of a call started at start and, when the window
// is over, updates the limit.
func (l *Limiter) sample(start, now int64) {
	if start < l.sampleFrom.Load() {
		return
	}
	l.window.Add(uint64((now-start+rttUnit/2)/rttUnit)<<countBits | 1)
	if now >= l.windowEnd.Load() && l.mu.TryLock() {
		l.updateLocked(now)
		l.mu.Unlock()
	}
}

// updateLocked ends the window at now: it finishes a no-load RTT
// measurement, starts one when due, or adapts the limit to the window.
func (l *Limiter) updateLocked(now int64) {
	if now < l.windowEnd.Load() {
		return
	}
	l.windowEnd.Store(now + int64(l.cfg.window))
	w := l.window.Swap(0)
	n, sum := int64(w&(1<<countBits-1)), int64(w>>countBits)*rttUnit
	if l.probing {
		l.probeSum += sum
		l.probeN += n
		if l.probeN >= probeSamples || (l.probeN > 0 && now-l.probeStart >= probeWindows*int64(l.cfg.window)) {
			l.minRTT = time.Duration(l.probeSum / l.probeN)
			l.probing = false
			l.schedule(now)
			l.setLimitLocked(l.limit)
		}
		return
	}
	if n == 0 {
		return
	}
	if l.cfg.minRTTInterval > 0 && now >= l.nextProbe {
		l.startProbeLocked(now)
		return
	}
	avg := float64(sum) / float64(n)
	floor := float64(l.minRTT) * l.cfg.tolerance
	limit := l.limit
	appLimited := float64(l.g.inflight.Load()) < limit/2
	next := limit
	switch l.cfg.algorithm {
	case AIMD:
		if avg > floor {
			next = limit * backoff
		} else if !appLimited {
			next = limit + 1
		}
	default:
		// Cuts apply at once (queueing shows within a window); growth is
		// smoothed, so the limit probes upwards gently.
		if gradient := max(0.5, min(1, floor/avg)); gradient < 1 {
			next = limit * gradient
		} else if !appLimited {
			next = limit + smoothing*math.Sqrt(limit)
		}
	}
	l.setLimitLocked(next)
}

// setLimitLocked clamps limit, keeps it and applies it to the gate.
func (l *Limiter) setLimitLocked(limit float64) {
	limit = max(float64(l.cfg.minLimit), min(float64(l.cfg.maxLimit), limit))
	l.limit = limit
	l.g.setLimit(int64(limit))
}

// startProbeLocked drops the limit to the minimum to measure the no-load
// RTT, as Envoy's adaptive concurrency filter does, so the floor the
// limit is measured against never drifts up with the load.
func (l *Limiter) startProbeLocked(now int64) {
	l.probing = true
	l.probeStart = now
	l.probeSum, l.probeN = 0, 0
	l.window.Store(0)
	l.sampleFrom.Store(now)
	l.g.setLimit(int64(l.cfg.minLimit))
}

// schedule sets the time of the next no-load RTT measurement, with jitter
// so that instances do not measure in step.
func (l *Limiter) schedule(now int64) {
	d := float64(l.cfg.minRTTInterval) * (1 + probeJitter*(2*rand.Float64()-1))
	l.nextProbe = now + int64(d)
}

// classOf returns r's class: the classifier's, the route's, the class
// header's, or Default.
func (l *Limiter) classOf(r *http.Request) Class {
	if f := l.cfg.classifier; f != nil {
		return f(r)
	}
	if l.routeMux != nil {
		p := r.Pattern
		if p == "" {
			_, p = l.routeMux.Handler(r)
		}
		if c, ok := l.cfg.routes[p]; ok {
			return c
		}
	}
	if h := l.cfg.classHeader; h != "" {
		if c, ok := ParseClass(r.Header.Get(h)); ok {
			return c
		}
	}
	return Default
}

// Middleware returns next wrapped so that each request holds a slot of
// the limiter while next serves it, with the class WithClassifier,
// WithRouteClass or WithClassHeader gives it. A shed request is answered
// by the error handler (by default a 503 problem+json with Retry-After,
// which retry honours). Overload middleware belongs outside
// breaker.Middleware, so shed requests never count as failures of the
// route's breaker. On a nil *Limiter it limits nothing and logs that at
// Error.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	if l == nil {
		slog.Error("overload: Middleware of a nil *Limiter: nothing is limited")
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.handler.filter != nil && !l.handler.filter(r) {
			next.ServeHTTP(w, r)
			return
		}
		class := l.classOf(r)
		if ts := l.cfg.tenant; ts != nil {
			if tenant := ts.key(r); tenant != "" {
				if !ts.enter(tenant, l.g.limit.Load()) {
					l.handler.onError(w, r, l.g.reject(r.Context(), class.index()))
					return
				}
				defer ts.leave(tenant)
			}
		}
		t, err := l.Acquire(r.Context(), class)
		if err != nil {
			l.handler.onError(w, r, err)
			return
		}
		defer t.Done()
		next.ServeHTTP(w, r)
	})
}
