package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/paved-go/paved/internal/otelx"
)

// SharedStore holds breaker state that several processes share, such as
// the Redis store of package breaker/redisbreaker. name is a breaker's
// name (its key in a Registry). Lock takes the lock of that breaker,
// waiting a bounded time for it, with an expiry so a holder that dies
// does not wedge the others; Unlock releases it; GetData returns the
// breaker's state (nil and no error when there is none) and SetData
// replaces it. A store keeps a breaker's lock apart from its state. Each
// method bounds its own time (the interface has no context, as it is
// gobreaker's SharedDataStore), and must be safe for concurrent use.
type SharedStore interface {
	Lock(name string) error
	Unlock(name string) error
	GetData(name string) ([]byte, error)
	SetData(name string, data []byte) error
}

// DefaultSharedRetry is how long a breaker decides locally, without
// asking its SharedStore, after the store failed.
const DefaultSharedRetry = time.Second

// WithSharedState makes breakers share their state through store, so
// that calls failing in one process open the breaker in all of them. It
// uses gobreaker's DistributedCircuitBreaker: each call reads the shared
// state before it runs, and records its outcome under the store's lock
// after it ran (never holding the lock while the call runs). When the
// store fails, the breaker decides with its local state, skips the store
// for WithSharedStateRetry, logs the change once at Warn and counts it
// in paved.breaker.shared.fallbacks.
//
// Shared state needs a rule that can be shared: WithTimeWindow or
// WithConsecutiveFailures. The last-N-calls window (the default) and
// WithOpenDurationGrowth are counted per process, and New rejects them
// with shared state. See the package documentation for the cost.
func WithSharedState(store SharedStore) Option {
	return optionFunc(func(c *config) {
		if store == nil {
			c.fail(errors.New("breaker: WithSharedState: nil store"))
			return
		}
		c.shared = store
	})
}

// WithSharedStateRetry sets how long a breaker with shared state decides
// locally after its store failed, before one call tries the store again
// (default DefaultSharedRetry). Meanwhile calls cost no store round trip.
func WithSharedStateRetry(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.fail(errors.New("breaker: WithSharedStateRetry: " + d.String() + " is not positive"))
			return
		}
		c.sharedRetry = d
	})
}

// checkShared rejects what shared state cannot honour.
func (c *config) checkShared() error {
	if c.shared == nil {
		return nil
	}
	if c.consecutive == 0 && c.timeWindow == 0 {
		return errors.New("breaker: WithSharedState needs WithTimeWindow or WithConsecutiveFailures: " +
			"the last-N-calls window (the default) is counted per process and cannot be shared")
	}
	if c.growth > 1 {
		return errors.New("breaker: WithOpenDurationGrowth cannot be used with WithSharedState: " +
			"the shared state has one open duration")
	}
	if c.sharedRetry == 0 {
		c.sharedRetry = DefaultSharedRetry
	}
	return nil
}

// sharedEpoch is the origin of the monotonic times the store guard keeps.
var sharedEpoch = time.Now()

// shared is a breaker's link to its SharedStore. It is the
// gobreaker.SharedDataStore of the DistributedCircuitBreaker, and adapts
// it: gobreaker reads the state before it takes the lock, so a write by
// another process in between would be lost; here the lock is taken
// before that read instead. gobreaker also sleeps 500 ms between lock
// attempts; here Lock never fails (the store's own Lock, with its bounded
// wait, ran at the read), so a failing store costs one bounded attempt.
type shared struct {
	b     *Breaker
	store SharedStore
	dcb   *gobreaker.DistributedCircuitBreaker[struct{}]
	retry time.Duration

	mu      sync.Mutex // one exchange with the store at a time; never held across a call
	offline bool       // while the breaker is built: answer from memory
	locked  bool       // the store's lock is held
	err     error      // the first store error of the current exchange

	vmu    sync.Mutex // guards what follows
	last   []byte     // the last state read or written, to re-seed a store that lost it
	gen    uint64     // generation of the last state applied
	expiry time.Time  // of the last open state applied
	seen   bool

	downUntil atomic.Int64 // since sharedEpoch; 0 while the store works
	down      atomic.Bool  // for one log line per change
	probes    atomic.Int32 // half-open calls in flight from this process
	fallbacks *otelx.Counter
}

func newShared(b *Breaker, st gobreaker.Settings) *shared {
	s := &shared{b: b, store: b.cfg.shared, retry: b.cfg.sharedRetry, offline: true}
	// Metric errors cannot fail a call: a nil counter records nothing.
	s.fallbacks, _ = otelx.BreakerSharedFallbacks(b.cfg.mp, b.name)
	// Built offline, it seeds s.last with a fresh state and touches no
	// store: a breaker is usable while the store is down, and a Registry
	// creates breakers on the request path.
	s.dcb, _ = gobreaker.NewDistributedCircuitBreaker[struct{}](s, st)
	s.offline = false
	return s
}

// The gobreaker.SharedDataStore methods. gobreaker passes its own key
// names; the store is asked for the breaker's name.

func (s *shared) Lock(string) error { return nil }

func (s *shared) Unlock(string) error {
	if s.locked {
		s.locked = false
		if err := s.store.Unlock(s.b.name); err != nil && s.err == nil {
			s.err = err
		}
	}
	return nil
}

func (s *shared) GetData(string) ([]byte, error) {
	if s.offline {
		return nil, nil
	}
	if err := s.store.Lock(s.b.name); err != nil {
		s.err = err
		return nil, err
	}
	s.locked = true
	data, err := s.store.GetData(s.b.name)
	if err != nil {
		s.err = err
		return nil, err
	}
	return s.apply(data, true), nil
}

func (s *shared) SetData(_ string, data []byte) error {
	if s.offline {
		s.last = data
		return nil
	}
	if err := s.store.SetData(s.b.name, data); err != nil {
		s.err = err
		return err
	}
	s.apply(data, true)
	return nil
}

// apply brings the breaker's view up to date with a state read from or
// written to the store, and returns the state to use. A store that has
// no state (it restarted, or the key expired) or one that cannot be read
// gets the last state this process knew. A read under the lock is
// authoritative; one outside it (locked false) applies only a newer
// generation, since an exchange may have moved on meanwhile.
func (s *shared) apply(data []byte, locked bool) []byte {
	var st gobreaker.SharedState
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if len(data) == 0 || json.Unmarshal(data, &st) != nil {
		return s.last
	}
	if !locked && s.seen && st.Generation <= s.gen {
		return data
	}
	s.last, s.gen, s.seen = data, st.Generation, true
	b := s.b
	to, from := fromGobreaker(st.State), State(b.state.Load())
	now := time.Now()
	var openFor time.Duration
	if to == StateOpen {
		// gobreaker half-opens strictly after its expiry (newBreaker).
		openFor = st.Expiry.Sub(now) + time.Nanosecond
		if b.open.Load() == nil || !st.Expiry.Equal(s.expiry) {
			b.open.Store(&openState{until: now.Add(openFor)})
			s.expiry = st.Expiry
		}
	} else if b.open.Load() != nil {
		b.open.Store(nil)
	}
	if to != from {
		b.state.Store(int32(to))
		b.nmu.Lock()
		b.queue = append(b.queue, transition{from: from, to: to, openFor: max(openFor, 0), shared: true})
		b.pending.Store(true)
		b.nmu.Unlock()
	}
	return data
}

// usable reports whether a call may use the store now. After a failure
// it answers false until the retry time has passed; then it lets one
// caller try, and the others stay local until that one is done.
func (s *shared) usable(now time.Time) bool {
	d := s.downUntil.Load()
	if d == 0 {
		return true
	}
	n := int64(now.Sub(sharedEpoch))
	return n >= d && s.downUntil.CompareAndSwap(d, n+int64(s.retry))
}

func (s *shared) failed(ctx context.Context, err error) {
	s.downUntil.Store(int64(time.Since(sharedEpoch) + s.retry))
	if !s.down.Swap(true) {
		s.b.cfg.log().LogAttrs(ctx, slog.LevelWarn, "breaker shared state unavailable: deciding locally",
			slog.String("breaker", s.b.name), slog.String("error", err.Error()),
			slog.Duration("retry_in", s.retry))
	}
}

func (s *shared) worked(ctx context.Context) {
	if s.down.Load() && s.down.Swap(false) {
		s.downUntil.Store(0)
		s.b.cfg.log().LogAttrs(ctx, slog.LevelWarn, "breaker shared state restored",
			slog.String("breaker", s.b.name))
	}
}

// read fetches the shared state without the lock, to decide whether a
// call may run.
func (s *shared) read() error {
	data, err := s.store.GetData(s.b.name)
	if err != nil {
		return err
	}
	s.apply(data, false)
	return nil
}

// record counts a finished call's outcome in the shared state: one
// exchange of DistributedCircuitBreaker.Execute with a function that
// only returns the outcome, so the lock is held for the state machine's
// work and the store's round trips, never for the call.
func (s *shared) record(marker error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = nil
	_, gerr := s.dcb.Execute(func() (struct{}, error) { return struct{}{}, marker })
	s.Unlock("") // an exchange that failed half way holds the lock still
	if s.err != nil {
		return s.err
	}
	switch gerr {
	case nil, marker, gobreaker.ErrOpenState, gobreaker.ErrTooManyRequests:
		// Counted, or not counted because another process opened the
		// breaker meanwhile, or filled its probes.
		return nil
	}
	return gerr
}

// runShared is run for a breaker with shared state. It reports done
// false when the store is skipped or failed before the call ran: the
// caller then decides locally.
func (b *Breaker) runShared(ctx context.Context, classify Classifier, fn func(context.Context) error, clk *uploadClock) (res result, err error, done bool) {
	s := b.shared
	if !s.usable(time.Now()) {
		s.fallbacks.Add(ctx, "skipped")
		return 0, nil, false
	}
	if rerr := s.read(); rerr != nil {
		s.failed(ctx, rerr)
		s.fallbacks.Add(ctx, "store_error")
		return 0, nil, false
	}
	s.worked(ctx)
	if b.pending.Load() {
		b.flush(ctx)
	}
	now := time.Now()
	probe := false
	switch State(b.state.Load()) {
	case StateOpen:
		if o := b.open.Load(); o != nil && now.Before(o.until) {
			res, err = b.reject(ctx, classify, fn, StateOpen, o.until.Sub(now), clk)
			return res, err, true
		}
		probe = true // past its open time: the call is a probe
	case StateHalfOpen:
		probe = true
	}
	if probe {
		// gobreaker limits probes when the outcomes are recorded; this
		// limits the calls in flight, per process.
		if s.probes.Add(1) > int32(b.cfg.probes) {
			s.probes.Add(-1)
			res, err = b.reject(ctx, classify, fn, StateHalfOpen, halfOpenRetryAfter, clk)
			return res, err, true
		}
		defer s.probes.Add(-1)
	}
	res = resPanicked
	defer func() {
		if res == resPanicked { // fn panicked: count a failure, re-raise
			b.recordShared(ctx, res)
			b.finish(ctx, res)
		}
	}()
	var start time.Time
	if b.cfg.slow > 0 && clk == nil {
		start = time.Now()
	}
	err = fn(ctx)
	res = b.judge(ctx, classify, err, start, clk)
	b.recordShared(ctx, res)
	b.finish(ctx, res)
	return res, err, true
}

// recordShared records res in the shared state, or in the local state
// when the store fails. The store answered the read before the call, so
// it is tried whatever the guard says now.
func (b *Breaker) recordShared(ctx context.Context, res result) {
	s := b.shared
	marker := res.marker()
	err := s.record(marker)
	if err == nil {
		return
	}
	s.failed(ctx, err)
	s.fallbacks.Add(ctx, "store_error")
	_, _ = b.cb.Execute(func() (struct{}, error) { return struct{}{}, marker })
}
