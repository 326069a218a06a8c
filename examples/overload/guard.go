package main

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/overload"
)

// limiterGuard is overload.Limiter's middleware: an adaptive concurrency
// limit that discovers the capacity from the latency it measures, reading
// each request's class from ClassHeader, with a short LIFO queue.
func limiterGuard(queue int, maxWait time.Duration) (Protection, error) {
	l, err := overload.NewLimiter("drill", overload.WithClassHeader(ClassHeader),
		overload.WithQueue(queue), overload.WithMaxWait(maxWait))
	if err != nil {
		return nil, err
	}
	return l.Middleware, nil
}

// bulkheadGuard is overload.Bulkhead's middleware: at most limit requests
// at once, queue more waiting in line, the rest shed with 503 and
// Retry-After.
func bulkheadGuard(limit, queue int) (Protection, error) {
	b, err := overload.NewBulkhead("drill", limit, overload.WithQueue(queue))
	if err != nil {
		return nil, err
	}
	return b.Middleware, nil
}

// capGuard is the drill's reference protection: a concurrency cap set to
// the known capacity, with room for critical requests to queue briefly
// (up to queue more) while sheddable ones are shed as soon as every slot
// is taken. It is the baseline an adaptive limiter, which must discover
// the capacity instead of being told it, is compared with.
func capGuard(limit, queue int) Protection {
	return func(next http.Handler) http.Handler {
		var inflight atomic.Int64
		retry := strconv.Itoa(1)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bound := int64(limit)
			if r.Header.Get(ClassHeader) == "critical" {
				bound += int64(queue)
			}
			if inflight.Add(1) > bound {
				inflight.Add(-1)
				w.Header().Set("Retry-After", retry)
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			defer inflight.Add(-1)
			next.ServeHTTP(w, r)
		})
	}
}
