package retry

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/paved-go/paved/internal/otelx"
)

// hedge runs fn, and whenever the attempts in flight have not answered
// after the hedge delay, one more beside them, up to the maximum attempts,
// as gRPC's hedging policy (A6) does. The first good answer wins; the
// other attempts are canceled and what they return is released in the
// background. A failed attempt's verdict counts at once, even while others
// are in flight: an error not worth retrying (Permanent, a 4xx, an open
// breaker) or a server hint saying "stop" or "wait too long" cancels the
// others and ends the call with it; a retryable error starts the next
// attempt at once, or after the server's hint when it gave one. Every
// attempt after the first counts against the budget.
func hedge[T any, A attempter[T]](ctx context.Context, r *Retrier, fn A, start time.Time) (T, error) {
	type result struct {
		v    T
		err  error
		i    int
		took time.Duration
	}
	results := make(chan result, r.cfg.maxAttempts)
	cancels := make([]context.CancelFunc, 0, r.cfg.maxAttempts)
	launch := func() {
		i := len(cancels)
		var (
			actx   context.Context
			cancel context.CancelFunc
		)
		if r.cfg.attemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, r.cfg.attemptTimeout)
		} else {
			actx, cancel = context.WithCancel(ctx)
		}
		cancels = append(cancels, cancel)
		go func() {
			t0 := time.Now()
			v, err := fn.call(actx, i+1)
			results <- result{v: v, err: err, i: i, took: time.Since(t0)}
		}()
	}
	// abandon cancels every attempt but keep and releases, in the
	// background, what the pending ones still return.
	abandon := func(keep, pending int) {
		for i, c := range cancels {
			if i != keep {
				c()
			}
		}
		if pending > 0 {
			go func() {
				for range pending {
					res := <-results
					fn.release(res.v, res.err)
				}
			}()
		}
	}

	delay := r.cfg.hedgeDelay
	if delay == 0 {
		delay = r.latency.p95(50 * time.Millisecond)
	}
	launch()
	pending := 1
	timer := time.NewTimer(delay)
	defer timer.Stop()

	var (
		last     T
		lastErr  error
		lastIdx  = -1
		retryDue bool          // a failure scheduled the next attempt on the timer
		dueIn    time.Duration // after this server hint
	)
	fail := func(reason error) (T, error) {
		r.attempts.Add(ctx, "failure")
		abandon(lastIdx, pending)
		return fn.failed(fn.keep(last, cancels[lastIdx])), r.final(ctx, lastErr, len(cancels), reason)
	}
	for {
		select {
		case res := <-results:
			pending--
			if lastIdx >= 0 {
				fn.release(last, lastErr)
				cancels[lastIdx]()
			}
			if res.err == nil {
				r.latency.add(res.took)
				r.attempts.Add(ctx, "success")
				abandon(res.i, pending)
				return fn.keep(res.v, cancels[res.i]), nil
			}
			last, lastErr, lastIdx = res.v, res.err, res.i
			d, why := r.judge(ctx, res.err, len(cancels), start, 0, true)
			switch {
			case why == errRetry:
				if !retryDue { // one failure, one replacement
					retryDue, dueIn = true, d
					timer.Reset(d)
				}
			case why == ErrAttemptsExhausted || why == ErrDeadline:
				if pending == 0 {
					return fail(why)
				}
				timer.Stop() // no more attempts; one in flight may still succeed
				retryDue = false
			default: // the verdict is final: not worth retrying, or the server said stop
				return fail(why)
			}
		case <-timer.C:
			if len(cancels) >= r.cfg.maxAttempts {
				continue
			}
			if !retryDue && r.cfg.maxElapsed > 0 && time.Since(start) > r.cfg.maxElapsed {
				continue // too late for another hedge; judge checked a replacement
			}
			if !r.cfg.budget.withdraw() {
				r.budgetExhausted(ctx)
				if pending == 0 {
					return fail(ErrBudgetExhausted)
				}
				retryDue = false
				continue
			}
			if retryDue {
				retryDue = false
				r.attempts.Add(ctx, "retry")
				otelx.AddEvent(ctx, otelx.EventRetryAttempt,
					attribute.Int("paved.retry.attempt", len(cancels)+1),
					attribute.Int64("paved.retry.delay_ms", dueIn.Milliseconds()))
			}
			launch()
			pending++
			timer.Reset(delay)
		case <-ctx.Done():
			abandon(-1, pending)
			err := lastErr
			if lastIdx >= 0 {
				fn.release(last, lastErr)
			} else {
				err = ctx.Err()
			}
			var zero T
			return zero, r.final(ctx, err, len(cancels), ctx.Err())
		}
	}
}

// latencies keeps the durations of recent successful attempts, to hedge
// at their 95th percentile.
type latencies struct {
	mu   sync.Mutex
	ring [128]time.Duration
	n    int // samples recorded, saturating at len(ring) for p95
	next int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.next] = d
	l.next = (l.next + 1) % len(l.ring)
	if l.n < len(l.ring) {
		l.n++
	}
	l.mu.Unlock()
}

// p95 returns the 95th percentile of the recorded latencies, or fallback
// until 20 have been recorded.
func (l *latencies) p95(fallback time.Duration) time.Duration {
	var buf [128]time.Duration
	l.mu.Lock()
	n := l.n
	copy(buf[:], l.ring[:])
	l.mu.Unlock()
	if n < 20 {
		return fallback
	}
	s := buf[:n]
	slices.Sort(s)
	return s[(len(s)*95+99)/100-1]
}
