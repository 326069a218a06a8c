package retry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/otelx"
)

// Retrier runs functions again when they fail, with backoff, within a
// retry budget and never past the caller's deadline. It is safe for
// concurrent use; make one per upstream and share it.
type Retrier struct {
	cfg       config
	attempts  *otelx.Counter
	exhausted *otelx.Counter
	latency   latencies // for hedging at the observed p95

	exhaustedN atomic.Uint64  // retries the budget refused, for the status page
	status     *retrierStatus // nil when not registered
}

// New returns a Retrier named name, configured by opts, or an error naming
// every invalid option. The name labels its metrics (paved.retry.name) and
// logs; use the upstream's name, e.g. "inventory". An empty name is an
// error.
func New(name string, opts ...Option) (*Retrier, error) {
	cfg, err := newConfig(name, opts...)
	if err != nil {
		return nil, err
	}
	r := &Retrier{cfg: cfg}
	if r.attempts, err = otelx.RetryAttempts(cfg.meterProvider, cfg.name); err != nil {
		return nil, err
	}
	if r.exhausted, err = otelx.RetryBudgetExhausted(cfg.meterProvider, cfg.name); err != nil {
		return nil, err
	}
	r.register()
	return r, nil
}

// Name returns the name the Retrier was made with.
func (r *Retrier) Name() string { return r.cfg.name }

// Hedges reports whether r hedges (WithHedging): its attempts of one call
// may then run at the same time, which adapters that share one reply
// between attempts, such as retrygrpc's, cannot allow.
func (r *Retrier) Hedges() bool { return r.cfg.hedging }

// Do calls fn until it succeeds, returns a Permanent error or an error not
// worth retrying, or the retries run out (attempts, budget, deadline).
// Between attempts it waits the backoff, or the delay a server hint in
// the error asks for (Retry-After: any error with a RetryDelay()
// time.Duration method, see After). A circuit breaker's rejection ends
// the retries at once unless WithWaitForHalfOpen. It never waits past
// ctx's deadline and stops at once when ctx ends. A failure comes back as
// an *Error wrapping the last attempt's error.
//
// Only retry work that is safe to repeat (idempotent).
func (r *Retrier) Do(ctx context.Context, fn func(context.Context) error) error {
	_, err := run(ctx, r, errFunc(fn))
	return err
}

// Call is Do for functions that return a value. With WithAttemptTimeout
// or WithHedging, an attempt's context ends when fn returns, so return
// values that no longer need it (read an HTTP body inside fn, or use
// Transport, which keeps the context until the body is closed); values
// returned with an error, or by a hedge that lost, are dropped as is.
func Call[T any](ctx context.Context, r *Retrier, fn func(context.Context) (T, error)) (T, error) {
	return run(ctx, r, valueFunc[T](fn))
}

// attempter is one kind of work: plain functions, or HTTP round trips
// whose discarded responses must be drained and closed.
type attempter[T any] interface {
	// call makes attempt number n (1 for the first).
	call(ctx context.Context, n int) (T, error)
	// release frees what a dropped attempt returned (retried, or lost a
	// hedge race).
	release(v T, err error)
	// keep binds the attempt's context to the value it returned: cancel
	// when the value is no longer in use.
	keep(v T, cancel context.CancelFunc) T
	// failed is what the caller gets with the error when the last attempt
	// failed: the zero value, or for HTTP the last response itself.
	failed(v T) T
}

type errFunc func(context.Context) error

func (f errFunc) call(ctx context.Context, _ int) (struct{}, error) { return struct{}{}, f(ctx) }
func (errFunc) release(struct{}, error)                             {}
func (errFunc) keep(v struct{}, cancel context.CancelFunc) struct{} { cancel(); return v }
func (errFunc) failed(struct{}) struct{}                            { return struct{}{} }

type valueFunc[T any] func(context.Context) (T, error)

func (f valueFunc[T]) call(ctx context.Context, _ int) (T, error) { return f(ctx) }
func (valueFunc[T]) release(T, error)                             {}
func (valueFunc[T]) keep(v T, cancel context.CancelFunc) T        { cancel(); return v }
func (valueFunc[T]) failed(T) T                                   { var zero T; return zero }

func run[T any, A attempter[T]](ctx context.Context, r *Retrier, fn A) (T, error) {
	var start time.Time // read only when needed: time.Now is not free
	if r.cfg.maxElapsed > 0 {
		start = time.Now()
	}
	r.cfg.budget.request()
	if r.cfg.hedging {
		return hedge(ctx, r, fn, start)
	}
	var prev time.Duration
	for attempt := 1; ; attempt++ {
		v, err := once(ctx, r, fn, attempt)
		if err == nil {
			r.attempts.Add(ctx, "success")
			return v, nil
		}
		delay, reason := r.next(ctx, err, attempt, start, prev)
		if reason != errRetry {
			r.attempts.Add(ctx, "failure")
			return fn.failed(v), r.final(ctx, err, attempt, reason)
		}
		fn.release(v, err)
		prev = delay
		r.attempts.Add(ctx, "retry")
		otelx.AddEvent(ctx, otelx.EventRetryAttempt,
			attribute.Int("paved.retry.attempt", attempt+1),
			attribute.Int64("paved.retry.delay_ms", delay.Milliseconds()))
		if cerr := sleep(ctx, delay); cerr != nil {
			var zero T
			return zero, r.final(ctx, err, attempt, cerr) // the caller gave up while we waited
		}
	}
}

// once runs attempt number n, under the attempt timeout when there is
// one.
func once[T any, A attempter[T]](ctx context.Context, r *Retrier, fn A, n int) (T, error) {
	if r.cfg.attemptTimeout <= 0 {
		return fn.call(ctx, n)
	}
	actx, cancel := context.WithTimeout(ctx, r.cfg.attemptTimeout)
	v, err := fn.call(actx, n)
	return fn.keep(v, cancel), err
}

// errRetry is next's verdict "retry after the returned delay".
var errRetry = errors.New("retry")

// next decides whether to retry after the attempt-th attempt failed with
// err, and how long to wait, withdrawing the retry from the budget.
func (r *Retrier) next(ctx context.Context, err error, attempt int, start time.Time, prev time.Duration) (time.Duration, error) {
	delay, why := r.judge(ctx, err, attempt, start, prev, false)
	if why != errRetry {
		return 0, why
	}
	if !r.cfg.budget.withdraw() {
		r.budgetExhausted(ctx)
		return 0, ErrBudgetExhausted
	}
	return delay, errRetry
}

// judge is next without the budget: the verdict on an attempt that failed
// with err. A hedged attempt is replaced at once (after the server's hint,
// if any), not after a backoff. It reads the clock once.
func (r *Retrier) judge(ctx context.Context, err error, attempt int, start time.Time, prev time.Duration, hedged bool) (time.Duration, error) {
	if _, ok := errors.AsType[*permanentError](err); ok {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err // the caller is gone or out of time
	}
	hint, hinted := httpx.RetryDelayOf(err)
	switch {
	case !r.cfg.waitHalfOpen && breakerRejected(err):
		return 0, nil
	case hinted && (hint < 0 || hint > r.cfg.maxServerDelay):
		return 0, ErrHint
	case hinted:
	case r.cfg.retryIf != nil:
		if !r.cfg.retryIf(err) {
			return 0, nil
		}
	case !retryableByDefault(err):
		return 0, nil
	}
	if attempt >= r.cfg.maxAttempts {
		return 0, ErrAttemptsExhausted
	}
	delay := hint
	if !hinted && !hedged {
		delay = r.cfg.backoff.delay(attempt, prev)
	}
	now := time.Now()
	if dl, ok := ctx.Deadline(); ok && !now.Add(delay).Before(dl) {
		return 0, ErrDeadline
	}
	if r.cfg.maxElapsed > 0 && now.Add(delay).Sub(start) > r.cfg.maxElapsed {
		return 0, ErrDeadline
	}
	return delay, errRetry
}

// breakerRejected reports whether err is a circuit breaker's rejection:
// the breaker, not the upstream, answered.
func breakerRejected(err error) bool {
	return errors.Is(err, breaker.ErrOpen) || errors.Is(err, breaker.ErrTooManyRequests)
}

// retryableByDefault retries everything but client errors: an error that
// declares a 4xx status other than 408 and 429 will fail the same way
// again.
func retryableByDefault(err error) bool {
	if sc, ok := errors.AsType[httpx.StatusCoder](err); ok {
		s := sc.HTTPStatus()
		return s < 400 || s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests
	}
	return true
}

func (r *Retrier) final(ctx context.Context, err error, attempts int, reason error) error {
	if p, ok := err.(*permanentError); ok {
		err = p.err
	}
	e := &Error{Attempts: attempts, Err: err, Reason: reason}
	if l := r.cfg.log(); l.Enabled(ctx, slog.LevelDebug) {
		l.LogAttrs(ctx, slog.LevelDebug, "retry: giving up", slog.String("retrier", r.cfg.name),
			slog.Int("attempts", attempts), slog.String("error", e.Error()))
	}
	return e
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
