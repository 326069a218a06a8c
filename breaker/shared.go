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
//
// A store may also have the methods LockGetData(name string) ([]byte,
// error), Lock then GetData in one step, and SetDataUnlock(name string,
// data []byte) error, SetData then Unlock in one step that writes only
// while the lock is still held; the breaker then uses them, which saves
// two round trips per exchange (the Redis store has both).
type SharedStore interface {
	Lock(name string) error
	Unlock(name string) error
	GetData(name string) ([]byte, error)
	SetData(name string, data []byte) error
}

// The optional methods of a SharedStore.
type (
	lockGetter interface {
		LockGetData(name string) ([]byte, error)
	}
	setUnlocker interface {
		SetDataUnlock(name string, data []byte) error
	}
)

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
// with shared state. Processes sharing a breaker name must configure it
// alike: a shared state open for longer than this breaker's open
// duration plus a minute is taken for a clock gone wrong, and replaced.
// See the package documentation for the cost.
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
// it in three ways:
//   - gobreaker reads the state before it takes the lock, so a write by
//     another process in between would be lost; here the lock is taken
//     before that read;
//   - gobreaker sleeps 500 ms between lock attempts; here Lock never
//     fails (the store's own Lock, with its bounded wait, ran at the
//     read), so a failing store costs one bounded attempt;
//   - gobreaker makes one exchange (lock, read, write, unlock) per call;
//     here the outcomes that finish while an exchange is running are
//     queued, and the next exchange applies them all, one Execute each,
//     between one read and one write.
type shared struct {
	b     *Breaker
	store SharedStore
	dcb   *gobreaker.DistributedCircuitBreaker[struct{}]
	retry time.Duration

	// Used by the one goroutine running exchanges (recording is set).
	offline bool   // while the breaker is built: answer from memory
	locked  bool   // the store's lock is held
	session bool   // the state was read in this exchange: cur holds it
	cur     []byte // the state of this exchange, written at its end
	dirty   bool   // cur changed
	err     error  // the first store error of this exchange
	spare   []error

	qmu       sync.Mutex // guards queue and recording
	queue     []error    // outcomes (markers) waiting for an exchange
	recording bool       // a goroutine is running exchanges

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
// names; the store is asked for the breaker's name. The lock is taken at
// the first read of an exchange and released at its end (exchange).

func (s *shared) Lock(string) error   { return nil }
func (s *shared) Unlock(string) error { return nil }

func (s *shared) GetData(string) ([]byte, error) {
	if s.offline {
		return nil, nil
	}
	if s.session {
		return s.cur, nil
	}
	var data []byte
	var err error
	if lg, ok := s.store.(lockGetter); ok {
		data, err = lg.LockGetData(s.b.name)
		s.locked = err == nil
	} else if err = s.store.Lock(s.b.name); err == nil {
		s.locked = true
		data, err = s.store.GetData(s.b.name)
	}
	if err != nil {
		s.err = err
		return nil, err
	}
	s.cur, s.session = s.apply(data, true), true
	return s.cur, nil
}

func (s *shared) SetData(_ string, data []byte) error {
	if s.offline {
		s.last = data
		return nil
	}
	s.cur, s.dirty = data, true
	return nil
}

// exchange applies a batch of outcomes to the shared state under the
// store's lock: one read, an Execute of gobreaker's state machine per
// outcome (a function that only returns it: the lock is never held for a
// call), one write. It reports whether the outcomes reached the local
// state machine (then they must not be counted again) and the store's
// error.
func (s *shared) exchange(batch []error) (applied bool, err error) {
	s.err, s.session, s.dirty, s.cur, s.locked = nil, false, false, nil, false
	for _, marker := range batch {
		_, gerr := s.dcb.Execute(func() (struct{}, error) { return struct{}{}, marker })
		if s.err != nil {
			break
		}
		switch gerr {
		case nil, marker, gobreaker.ErrOpenState, gobreaker.ErrTooManyRequests:
			// Counted, or not counted because another process opened
			// the breaker meanwhile, or filled its probes.
		default:
			s.err = gerr
		}
		applied = true
	}
	if s.err == nil && s.dirty {
		var err error
		if su, ok := s.store.(setUnlocker); ok && s.locked {
			s.locked = false
			err = su.SetDataUnlock(s.b.name, s.cur)
		} else {
			err = s.store.SetData(s.b.name, s.cur)
		}
		if err != nil {
			s.err = err
		} else {
			s.apply(s.cur, true)
		}
	}
	if s.locked {
		s.locked = false
		if err := s.store.Unlock(s.b.name); err != nil && s.err == nil {
			s.err = err
		}
	}
	s.session, s.cur = false, nil
	return applied, s.err
}

// apply brings the breaker's view up to date with a state read from or
// written to the store, and returns the state to use. A store that has
// no state (it restarted, or the key expired) or one that cannot be used
// (valid) gets the last state this process knew, which the exchange then
// writes back. A read under the lock is
// authoritative; one outside it (locked false) applies only a newer
// generation, since an exchange may have moved on meanwhile.
func (s *shared) apply(data []byte, locked bool) []byte {
	var st gobreaker.SharedState
	s.vmu.Lock()
	defer s.vmu.Unlock()
	now := time.Now()
	if len(data) == 0 || json.Unmarshal(data, &st) != nil || !s.valid(&st, now) {
		return s.last
	}
	if !locked && s.seen && st.Generation <= s.gen {
		return data
	}
	s.last, s.gen, s.seen = data, st.Generation, true
	b := s.b
	to, from := fromGobreaker(st.State), State(b.state.Load())
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

// maxSkew is how far ahead of this process's clock an open state may
// end beyond the open duration: more is a clock gone wrong (or a
// different configuration), and such a state would keep every instance
// open for as long.
const maxSkew = time.Minute

// valid reports whether gobreaker can run on st: a known state, between
// one bucket (gobreaker indexes the first without a check) and as many as
// WithTimeWindow allows, and an open time no longer than ours.
func (s *shared) valid(st *gobreaker.SharedState, now time.Time) bool {
	switch st.State {
	case gobreaker.StateOpen:
		if st.Expiry.Sub(now) > s.b.cfg.openFor+maxSkew {
			return false
		}
	case gobreaker.StateClosed, gobreaker.StateHalfOpen:
	default:
		return false
	}
	return len(st.Buckets) >= 1 && len(st.Buckets) <= 1000
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

// maxRounds bounds the exchanges one caller runs for others' outcomes;
// what is left waits for the next call.
const maxRounds = 4

// recordShared records res in the shared state, or in the local state
// when the store fails. A caller that finds an exchange running queues
// its outcome for it and returns; otherwise it runs exchanges until the
// queue is empty (at most maxRounds). The store answered the read before
// the call, so it is tried whatever the guard says now.
func (b *Breaker) recordShared(ctx context.Context, res result) {
	s := b.shared
	s.qmu.Lock()
	s.queue = append(s.queue, res.marker())
	if s.recording {
		s.qmu.Unlock()
		return
	}
	s.recording = true
	done := false
	defer func() {
		if !done { // the store panicked: let the next call record
			s.qmu.Lock()
			s.recording = false
			s.qmu.Unlock()
		}
	}()
	for round := 0; ; round++ {
		batch := s.queue
		if len(batch) == 0 || round == maxRounds {
			s.recording = false
			s.qmu.Unlock()
			done = true
			return
		}
		s.queue = s.spare[:0]
		s.qmu.Unlock()
		applied, err := s.exchange(batch)
		if err != nil {
			s.failed(ctx, err)
			for _, marker := range batch {
				s.fallbacks.Add(ctx, "store_error")
				if !applied {
					_, _ = b.cb.Execute(func() (struct{}, error) { return struct{}{}, marker })
				}
			}
		} else {
			s.worked(ctx)
		}
		clear(batch)
		s.spare = batch[:0]
		s.qmu.Lock()
	}
}
