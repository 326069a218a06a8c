package ratelimit

import (
	"context"
	"errors"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Decision is the outcome of asking a limiter for tokens: whether the call
// may go ahead, and the state of the bucket after the decision, which is
// what the RateLimit header and Retry-After report.
type Decision struct {
	// Allowed reports whether the tokens were taken and the call may go
	// ahead.
	Allowed bool
	// Remaining is the number of whole tokens left in the bucket.
	Remaining int
	// RetryAfter is zero when Allowed. Otherwise it is how long until the
	// bucket holds the tokens asked for, or rate.InfDuration when more
	// tokens than the burst were asked for, which is never allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again (zero when it
	// is full).
	ResetAfter time.Duration
}

// Quota is a token bucket's shape: it refills at Limit tokens per second
// and holds at most Burst tokens.
type Quota struct {
	Limit rate.Limit
	Burst int
}

// Decider is what the HTTP middleware and the gRPC interceptors need from
// a limiter: a decision for a key, and the quota to advertise. *Limiter and
// *Keyed implement it in memory; a distributed limiter (such as one on
// Redis) implements it to share buckets between instances.
//
// Decide takes n tokens from key's bucket if it holds them, and reports
// the decision either way. It returns an error only when the decision
// could not be made (a store was unreachable); callers then let the call
// through. Implementations must be safe for concurrent use.
type Decider interface {
	Decide(ctx context.Context, key string, n int) (Decision, error)
	Quota() Quota
}

// Limiter is a single token bucket shared by all its callers, for limits
// that do not depend on who calls (a client pacing its calls to an API, a
// global cap on one route). It wraps a rate.Limiter and is safe for
// concurrent use.
type Limiter struct {
	lim     *rate.Limiter
	quota   Quota
	maxWait time.Duration
}

// New returns a limiter whose bucket refills at limit tokens per second
// (rate.Every converts an interval; rate.Inf allows everything) and holds
// burst tokens, starting full. limit must be positive and burst at least 1.
// It accepts WithMaxWait.
func New(limit rate.Limit, burst int, opts ...Option) (*Limiter, error) {
	c, err := newConfig(forLimiter, opts)
	if err != nil {
		return nil, err
	}
	if err := checkQuota("New", limit, burst); err != nil {
		return nil, err
	}
	return &Limiter{lim: rate.NewLimiter(limit, burst), quota: Quota{limit, burst}, maxWait: c.maxWait}, nil
}

func checkQuota(ctor string, limit rate.Limit, burst int) error {
	if !(limit > 0) { // also rejects NaN
		return errors.New("ratelimit: " + ctor + ": limit must be positive")
	}
	if burst < 1 {
		return errors.New("ratelimit: " + ctor + ": burst must be at least 1")
	}
	return nil
}

// Allow takes one token if the bucket holds one now.
func (l *Limiter) Allow() Decision { return decide(l.lim, l.quota, time.Now(), 1) }

// AllowN takes n tokens if the bucket holds them now. n < 1 takes nothing
// and is always allowed, which makes it a way to read the bucket.
func (l *Limiter) AllowN(n int) Decision { return decide(l.lim, l.quota, time.Now(), n) }

// AllowAt is Allow at time t, for tests and for callers that already read
// the clock.
func (l *Limiter) AllowAt(t time.Time) Decision { return decide(l.lim, l.quota, t, 1) }

// AllowNAt is AllowN at time t.
func (l *Limiter) AllowNAt(t time.Time, n int) Decision { return decide(l.lim, l.quota, t, n) }

// Wait blocks until a token is available or fails at once: it returns a
// *LimitError when the wait would overrun ctx's deadline (or the
// WithMaxWait bound), and ctx.Err() when ctx is done while waiting.
func (l *Limiter) Wait(ctx context.Context) error { return l.WaitN(ctx, 1) }

// WaitN is Wait for n tokens. n larger than the burst is an error at once.
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	if reserve, err := checkWait(ctx, l.quota, n); !reserve {
		return err
	}
	return wait(ctx, l.lim, n, l.maxWait)
}

// Decide implements Decider: it is AllowN, whatever the key, so a Policy
// with a Limiter needs no key function.
func (l *Limiter) Decide(_ context.Context, _ string, n int) (Decision, error) {
	return decide(l.lim, l.quota, time.Now(), n), nil
}

// Quota returns the limiter's quota.
func (l *Limiter) Quota() Quota { return l.quota }

// localDecider is implemented by the in-memory limiters, for the
// Enforcer: one token's decision that also reports whether the key shared
// a Keyed's overflow bucket, and that, unless full, fills in an allowed
// Decision's Allowed only: a caller that sends no RateLimit header needs
// no more, and taking the token then locks the bucket once, not twice. A
// limited Decision is always complete.
type localDecider interface {
	decideLocal(key string, full bool) (d Decision, overflow bool)
}

func (l *Limiter) decideLocal(_ string, full bool) (Decision, bool) {
	if full {
		return decide(l.lim, l.quota, time.Now(), 1), false
	}
	return allowOne(l.lim, l.quota, time.Now()), false
}

// allowOne takes one token from lim at t if it holds one, and reports
// the rest of the Decision only when it does not.
func allowOne(lim *rate.Limiter, q Quota, t time.Time) Decision {
	if q.Limit == rate.Inf || lim.AllowN(t, 1) {
		return Decision{Allowed: true}
	}
	return q.limited(lim.TokensAt(t), 1)
}

// decide takes n tokens from lim at t if it holds them. It reads the
// bucket first, so a call that is limited costs one lock of lim and an
// allowed one two; a concurrent caller taking tokens in between is caught
// by AllowN, so no more tokens than the bucket holds are ever handed out.
// When q.Limit is rate.Inf there is nothing to count, and lim may be nil.
func decide(lim *rate.Limiter, q Quota, t time.Time, n int) Decision {
	if q.Limit == rate.Inf {
		return Decision{Allowed: true, Remaining: q.Burst}
	}
	tokens := lim.TokensAt(t)
	if n < 1 {
		// Taking nothing is allowed even from a bucket that waiters'
		// reservations left owing tokens, where rate.Limiter says no.
		// The call still moves the bucket's clock, as any call does.
		lim.AllowN(t, 0)
		return q.allowed(tokens)
	}
	if n <= q.Burst && tokens >= float64(n) {
		if lim.AllowN(t, n) {
			return q.allowed(tokens - float64(n))
		}
		tokens = lim.TokensAt(t)
	}
	return q.limited(tokens, n)
}

// allowed is the decision that left a bucket holding left tokens.
func (q Quota) allowed(left float64) Decision {
	return Decision{Allowed: true, Remaining: whole(left), ResetAfter: q.duration(float64(q.Burst) - left)}
}

// limited is the decision that refused n tokens to a bucket holding
// tokens.
func (q Quota) limited(tokens float64, n int) Decision {
	d := Decision{Remaining: whole(tokens), RetryAfter: rate.InfDuration, ResetAfter: q.duration(float64(q.Burst) - tokens)}
	if n <= q.Burst {
		d.RetryAfter = max(q.retryAfter(tokens, float64(n)), 1)
	}
	return d
}

func whole(tokens float64) int {
	if tokens <= 0 {
		return 0
	}
	return int(tokens)
}

// duration returns how long the bucket takes to gain tokens, to the
// nearest nanosecond.
func (q Quota) duration(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	ns := math.Round(tokens / float64(q.Limit) * float64(time.Second))
	if ns >= math.MaxInt64 {
		return rate.InfDuration
	}
	return time.Duration(ns)
}

// retryAfter returns how long until a bucket holding tokens holds need:
// the exact duration rounded to the nanosecond, then checked with
// rate.Limiter's own float arithmetic, so that asking again after exactly
// that long succeeds and a nanosecond earlier does not.
func (q Quota) retryAfter(tokens, need float64) time.Duration {
	ns := math.Round((need - tokens) / float64(q.Limit) * float64(time.Second))
	if ns >= math.MaxInt64 {
		return rate.InfDuration
	}
	enough := func(d time.Duration) bool { return tokens+d.Seconds()*float64(q.Limit) >= need }
	d := time.Duration(ns)
	for i := 0; i < 2 && !enough(d); i++ {
		d++
	}
	for i := 0; i < 2 && d > 1 && enough(d-1); i++ {
		d--
	}
	return d
}

// checkWait reports whether a wait for n tokens of a bucket of quota q
// has to reserve them, or else the error it ends with at once (nil when
// there is nothing to wait for).
func checkWait(ctx context.Context, q Quota, n int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if q.Limit == rate.Inf || n < 1 {
		return false, nil
	}
	if n > q.Burst {
		return false, errBurst(n, q.Burst)
	}
	return true, nil
}

// wait reserves n tokens of lim and sleeps until they are due, unless the
// sleep would take longer than waitBudget allows, in which case it gives
// the tokens back and fails at once. checkWait comes first.
func wait(ctx context.Context, lim *rate.Limiter, n int, maxWait time.Duration) error {
	now := time.Now()
	r := lim.ReserveN(now, n)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	if delay > waitBudget(ctx, now, maxWait) {
		r.CancelAt(now)
		return &LimitError{RetryAfter: delay}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.Cancel() // lets the next caller have the tokens sooner
		return ctx.Err()
	}
}
