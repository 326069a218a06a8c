package redisrate

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/ratelimit"
)

// Reasons for a fallback decision, the values of the reason attribute of
// paved.ratelimit.fallbacks.
const (
	reasonError       = "error"
	reasonTimeout     = "timeout"
	reasonBreakerOpen = "breaker_open"
)

// logInterval is the least time between two log lines about failed
// calls while the breaker is still closed: each failure is counted, but a
// Redis that fails every other call must not flood the logs.
const logInterval = time.Second

// fallBack decides for key by the fallback after Redis could not, and
// reports why.
func (l *Limiter) fallBack(ctx context.Context, key string, n int, err error) ratelimit.Decision {
	d := l.byFallback(ctx, key, n)
	if ctx.Err() != nil {
		// The caller gave up, which says nothing about Redis.
		return d
	}
	var open *breaker.OpenError
	switch {
	case errors.As(err, &open):
		l.fallbacks.Add(ctx, reasonBreakerOpen)
		l.outageN.Add(1)
		if !l.outage.Load() && l.outage.CompareAndSwap(false, true) {
			l.log(ctx, "redisrate: Redis is cut off by the open breaker; deciding by the fallback until it answers again",
				slog.Duration("retry_in", open.RetryAfter))
		}
	case isTimeout(err):
		l.fallbacks.Add(ctx, reasonTimeout)
		l.logFailure(ctx, reasonTimeout, err)
	default:
		l.fallbacks.Add(ctx, reasonError)
		l.logFailure(ctx, reasonError, err)
	}
	return d
}

// byFallback is the decision of the configured fallback.
func (l *Limiter) byFallback(ctx context.Context, key string, n int) ratelimit.Decision {
	q := l.bucket.quota
	switch {
	case l.fallback == Local:
		d, _ := l.local.Decide(ctx, key, n) // never fails
		return d
	case l.fallback == FailOpen || n < 1:
		return ratelimit.Decision{Allowed: true, Remaining: q.Burst}
	}
	d := ratelimit.Decision{RetryAfter: rate.InfDuration, ResetAfter: micros(l.bucket.burst * l.bucket.interval)}
	if n <= q.Burst {
		d.RetryAfter = max(micros(float64(n)*l.bucket.interval), time.Microsecond)
	}
	return d
}

// resumed ends an outage: Redis answered.
func (l *Limiter) resumed(ctx context.Context) {
	if l.outage.CompareAndSwap(true, false) {
		l.log(ctx, "redisrate: Redis answers again; shared decisions resumed",
			slog.Int64("fallback_decisions", l.outageN.Swap(0)))
	}
}

// logFailure logs a failed call at most once per logInterval, with the
// number of lines it left out.
func (l *Limiter) logFailure(ctx context.Context, reason string, err error) {
	now := time.Now().UnixNano()
	next := l.nextLog.Load()
	if now < next || !l.nextLog.CompareAndSwap(next, now+int64(logInterval)) {
		l.suppressed.Add(1)
		return
	}
	l.log(ctx, "redisrate: Redis call failed; decided by the fallback",
		slog.String("reason", reason),
		slog.String("error", err.Error()),
		slog.Int64("suppressed", l.suppressed.Swap(0)))
}

// log writes one Warn line about the limiter; keys are never logged.
func (l *Limiter) log(ctx context.Context, msg string, attrs ...slog.Attr) {
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs = append(attrs,
		slog.String("limiter", l.name),
		slog.String("fallback", l.fallback.String()))
	logger.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

// isTimeout reports whether err is a call that ran out of time.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
