package breaker

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/paved-go/paved/internal/otelx"
)

// Breaker is a circuit breaker around calls to one dependency. It is safe
// for concurrent use. The zero value is not usable; call New, or get one
// per key from a Registry.
type Breaker struct {
	name string
	cfg  *config // shared with the Registry that made it; read-only
	cb   *gobreaker.CircuitBreaker[struct{}]

	window *countWindow // nil unless the rate rule counts calls
	shared *shared      // nil unless WithSharedState (shared.go)

	// open is set while the breaker is open, with the deadline it
	// half-opens at. gobreaker's Timeout is one value per breaker, so a
	// growing open duration is enforced here, and checking it first lets
	// an open breaker reject without taking gobreaker's mutex.
	open  atomic.Pointer[openState]
	state atomic.Int32 // State as of the last transition, for the Registry

	// Written only in gobreaker's hooks, under its mutex.
	reopens int    // consecutive re-opens, for WithOpenDurationGrowth
	tripped Counts // the window that made it trip, for the log line

	calls  *otelx.Counter
	series *otelx.StateSeries // nil: no paved.breaker.state of its own

	pending     atomic.Bool // transitions wait in queue
	nmu         sync.Mutex  // guards queue and dispatching
	queue       []transition
	dispatching bool
}

type openState struct {
	until time.Time // monotonic: compared with time.Now, not wall clocks
}

// New returns a breaker named name (the paved.breaker.name of its metrics
// and the "breaker" of its log lines) configured by opts. It fails on an
// empty name or an invalid option.
func New(name string, opts ...Option) (*Breaker, error) {
	if name == "" {
		return nil, errors.New("breaker: New: empty name")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.registry != "" {
		return nil, errors.New("breaker: New: " + cfg.registry + " is an option of NewRegistry")
	}
	calls, err := otelx.BreakerCalls(cfg.mp, name)
	if err != nil {
		return nil, errors.New("breaker: " + err.Error())
	}
	b := newBreaker(name, cfg, calls, otelx.NewBreakerStateSeries(name))
	// The callback holds b weakly, so registering it does not keep b
	// alive; once b is collected its series stop and the callback goes.
	wb := weak.Make(b)
	reg, err := otelx.BreakerStates(cfg.mp, func(o otelx.StateObserver) {
		if b := wb.Value(); b != nil {
			b.observe(o, time.Now())
		}
	})
	if err != nil {
		return nil, errors.New("breaker: " + err.Error())
	}
	if reg != nil {
		runtime.AddCleanup(b, unregister, reg)
	}
	b.register()
	return b, nil
}

func unregister(reg metric.Registration) { _ = reg.Unregister() }

func newBreaker(name string, cfg *config, calls *otelx.Counter, series *otelx.StateSeries) *Breaker {
	b := &Breaker{name: name, cfg: cfg, calls: calls, series: series}
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(cfg.probes),
		// gobreaker half-opens strictly after its expiry; one nanosecond
		// less makes it half-open at our deadline exactly, so a caller who
		// waits the RetryAfter it was given finds the breaker half-open.
		Timeout:       max(cfg.openFor-time.Nanosecond, time.Nanosecond),
		ReadyToTrip:   b.readyToTrip,
		OnStateChange: b.onTransition,
		IsSuccessful:  b.isSuccessful,
		IsExcluded:    isExcluded,
	}
	switch {
	case cfg.consecutive > 0:
	case cfg.timeWindow > 0:
		st.Interval = cfg.timeWindow
		st.BucketPeriod = cfg.timeWindow / time.Duration(cfg.buckets)
	default:
		b.window = newCountWindow(cfg.countWindow)
	}
	if cfg.shared != nil {
		// The distributed breaker's own CircuitBreaker holds the state
		// last read from the store, and decides when the store fails.
		b.shared = newShared(b, st)
		b.cb = b.shared.dcb.CircuitBreaker
		return b
	}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](st)
	return b
}

// observe reports b's state to paved.breaker.state. It reads atomics
// only: it runs on the metric reader's goroutine, and must not deliver
// transitions (user callbacks) there. An open breaker past its open
// duration reports half-open, as State does.
func (b *Breaker) observe(o otelx.StateObserver, now time.Time) {
	if b.series == nil {
		return
	}
	st := State(b.state.Load())
	if st == StateOpen {
		if op := b.open.Load(); op == nil || !now.Before(op.until) {
			st = StateHalfOpen
		}
	}
	o.Observe(b.series, int(st))
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Do runs fn if the breaker lets the call through and counts its outcome.
// A rejected call returns an *OpenError (errors.Is ErrOpen or
// ErrTooManyRequests) without running fn; otherwise Do returns fn's error.
// With WithFallback, a rejection or a failed call returns what the fallback
// returns instead. A panic in fn counts as a failure and is re-raised.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	res, err := b.run(ctx, b.cfg.classify, fn, nil)
	if b.cfg.fallback != nil && fallbackApplies(err, res) {
		return b.cfg.fallback(ctx, err)
	}
	return err
}

// DoWith is Do with classify deciding how the call counts (nil means the
// breaker's Classifier), and without the breaker's fallback. Adapters use
// it to judge calls by their own status codes, as breakergrpc does.
func (b *Breaker) DoWith(ctx context.Context, classify Classifier, fn func(context.Context) error) error {
	if classify == nil {
		classify = b.cfg.classify
	}
	_, err := b.run(ctx, classify, fn, nil)
	return err
}

// Call is Do for a function with a result. When the breaker's WithFallback
// runs, Call returns the zero T and the fallback's error; use
// CallWithFallback to fall back to a value.
func Call[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	var v T
	res, err := b.run(ctx, b.cfg.classify, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	}, nil)
	if b.cfg.fallback != nil && fallbackApplies(err, res) {
		var zero T
		return zero, b.cfg.fallback(ctx, err)
	}
	return v, err
}

// CallWithFallback is Call with its own fallback, run instead of the
// breaker's when the breaker rejects the call or the call fails; its
// results are returned, so it can serve a last good value.
func CallWithFallback[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error), fallback func(context.Context, error) (T, error)) (T, error) {
	var v T
	res, err := b.run(ctx, b.cfg.classify, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	}, nil)
	if fallback != nil && fallbackApplies(err, res) {
		return fallback(ctx, err)
	}
	return v, err
}

func fallbackApplies(err error, res result) bool {
	return err != nil && (res == resRejected || res == resFailure)
}

// run is the one path every call takes. It returns how the call counted
// and fn's error or the rejection; in dry-run mode a call the breaker
// would have rejected runs and returns its own outcome. A non-nil clk
// times the call for the slow-call check instead of run's own clock reads
// around fn (Transport starts it once the request is written).
func (b *Breaker) run(ctx context.Context, classify Classifier, fn func(context.Context) error, clk *uploadClock) (result, error) {
	if o := b.open.Load(); o != nil {
		now := time.Now()
		if now.Before(o.until) {
			return b.reject(ctx, classify, fn, StateOpen, o.until.Sub(now), clk)
		}
	}
	if b.shared != nil {
		if res, err, done := b.runShared(ctx, classify, fn, clk); done {
			return res, err
		}
	}
	var err error
	res := resRejected
	defer func() {
		if res == resPanicked { // gobreaker counted the failure and re-panics
			b.finish(ctx, resPanicked)
		}
	}()
	_, gerr := b.cb.Execute(func() (struct{}, error) {
		res = resPanicked
		var start time.Time
		if b.cfg.slow > 0 && clk == nil {
			start = time.Now()
		}
		err = fn(ctx)
		res = b.judge(ctx, classify, err, start, clk)
		return struct{}{}, res.marker()
	})
	if res == resRejected { // gobreaker refused: open, or half-open and full
		if gerr == gobreaker.ErrTooManyRequests {
			return b.reject(ctx, classify, fn, StateHalfOpen, halfOpenRetryAfter, clk)
		}
		var d time.Duration
		if o := b.open.Load(); o != nil {
			d = max(time.Until(o.until), 0)
		}
		return b.reject(ctx, classify, fn, StateOpen, d, clk)
	}
	b.finish(ctx, res)
	return res, err
}

// judge classifies a finished call: ignored and failed calls as the
// Classifier says, then successes over the slow-call threshold as slow,
// timed from start, or by clk when it is not nil.
func (b *Breaker) judge(ctx context.Context, classify Classifier, err error, start time.Time, clk *uploadClock) result {
	if err == errAborted {
		return resIgnored
	}
	switch classify(ctx, err) {
	case Ignored:
		return resIgnored
	case Failure:
		return resFailure
	}
	if b.cfg.slow > 0 {
		var took time.Duration
		if clk != nil {
			took = clk.took(time.Now())
		} else {
			took = time.Since(start)
		}
		if took > b.cfg.slow {
			return resSlow
		}
	}
	return resSuccess
}

// reject answers a call the breaker does not let through: an *OpenError,
// or in dry-run mode the call's own result, run outside gobreaker.
func (b *Breaker) reject(ctx context.Context, classify Classifier, fn func(context.Context) error, st State, retryAfter time.Duration, clk *uploadClock) (result, error) {
	b.finish(ctx, resRejected)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		otelx.AddEvent(ctx, otelx.EventBreakerRejected,
			attribute.String(otelx.AttrBreakerName, b.name),
			attribute.String("paved.breaker.state", st.String()),
			attribute.Bool("paved.breaker.dry_run", b.cfg.dryRun))
	}
	if !b.cfg.dryRun {
		return resRejected, &OpenError{Name: b.name, State: st, RetryAfter: retryAfter}
	}
	var start time.Time
	if b.cfg.slow > 0 && clk == nil {
		start = time.Now()
	}
	err := fn(ctx)
	return b.judge(ctx, classify, err, start, clk), err
}

// finish records a call's outcome and delivers any state change it caused.
func (b *Breaker) finish(ctx context.Context, res result) {
	b.calls.Add(ctx, res.String())
	if b.pending.Load() {
		b.flush(ctx)
	}
}

// State returns the breaker's current state. An open breaker whose open
// duration has passed reports (and becomes) half-open.
func (b *Breaker) State() State {
	if o := b.open.Load(); o != nil && time.Now().Before(o.until) {
		return StateOpen
	}
	s := fromGobreaker(b.cb.State())
	if b.pending.Load() {
		b.flush(context.Background())
	}
	return s
}

// Counts is a snapshot of what a breaker's trip rule sees.
type Counts struct {
	// Calls is the number of calls with an outcome in the window (the
	// count or time window while closed; the probes while half-open),
	// ignored calls excluded.
	Calls int
	// Failures is how many of them failed or were slow.
	Failures int
	// ConsecutiveFailures and ConsecutiveSuccesses count the latest run of
	// outcomes since the last state change.
	ConsecutiveFailures  int
	ConsecutiveSuccesses int
}

// Counts returns the breaker's current counts. All counts restart at zero
// on every state change.
func (b *Breaker) Counts() Counts {
	b.State() // rolls gobreaker's time buckets forward
	c := b.cb.Counts()
	out := Counts{
		Calls:                int(c.TotalSuccesses + c.TotalFailures),
		Failures:             int(c.TotalFailures),
		ConsecutiveFailures:  int(c.ConsecutiveFailures),
		ConsecutiveSuccesses: int(c.ConsecutiveSuccesses),
	}
	if b.window != nil {
		out.Calls, out.Failures = b.window.counts()
	}
	return out
}
