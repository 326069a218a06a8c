package overload

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// DefaultRetryAfter is the retry delay a shed call is advised to wait
// unless WithRetryAfter says otherwise.
const DefaultRetryAfter = time.Second

// bulkheadConfig holds NewBulkheads' settings.
type bulkheadConfig struct {
	maxKeys    int
	requestKey func(*http.Request) string
}

// Bulkhead caps the number of concurrent calls to a resource. Calls over
// the cap wait in an optional bounded FIFO queue (WithQueue) for at most
// WithMaxWait, or are shed with a *ShedError. Build it with NewBulkhead;
// it is safe for concurrent use.
type Bulkhead struct {
	g       gate
	rel     func() // g.release, bound once so Acquire allocates nothing
	handler httpHandling

	shedRate *registry.PerMinute // nil when not registered
}

// NewBulkhead returns a bulkhead named name that admits at most
// maxConcurrent calls at once. The name is the paved.overload.name metric
// attribute. It accepts WithQueue, WithMaxWait, WithRetryAfter, WithDryRun,
// WithErrorHandler, WithFilter, WithLogger and WithMeterProvider.
func NewBulkhead(name string, maxConcurrent int, opts ...Option) (*Bulkhead, error) {
	c := newConfig()
	err := applyOptions(&c, forBulkhead, opts)
	if name == "" {
		err = errors.Join(err, errors.New("overload: NewBulkhead: empty name"))
	}
	if maxConcurrent < 1 {
		err = errors.Join(err, errors.New("overload: NewBulkhead: maxConcurrent must be at least 1"))
	}
	if err != nil {
		return nil, err
	}
	b, err := newBulkhead(&c, name, maxConcurrent, nil)
	if err != nil {
		return nil, err
	}
	b.register()
	return b, nil
}

// newBulkhead builds a bulkhead; a non-nil shared gives it the
// instruments of a registry instead of its own.
func newBulkhead(c *config, name string, maxConcurrent int, shared *gate) (*Bulkhead, error) {
	b := &Bulkhead{handler: c.httpHandling()}
	if shared != nil {
		b.g.counter, b.g.sheds = shared.counter, shared.sheds
	}
	if err := b.g.init(c, name, int64(maxConcurrent), [3]float64{1, 1, 1}, false, c.queue, c.maxWait, c.retryAfter); err != nil {
		return nil, err
	}
	b.rel = b.g.release
	return b, nil
}

// Acquire takes a slot, waiting in the queue if the bulkhead is full and
// has one. It returns the function that frees the slot, to be called
// exactly once when the call ends, or a *ShedError (errors.Is ErrShed)
// when the call is shed, or the context's error when ctx ends first.
// Admitting a call below the cap allocates nothing.
func (b *Bulkhead) Acquire(ctx context.Context) (release func(), err error) {
	if err := b.g.acquire(ctx, 1); err != nil {
		return nil, err
	}
	return b.rel, nil
}

// Do runs fn in a slot of the bulkhead, or returns the error of Acquire
// without running it.
func (b *Bulkhead) Do(ctx context.Context, fn func(context.Context) error) error {
	release, err := b.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(ctx)
}

// InFlight returns the number of calls holding a slot.
func (b *Bulkhead) InFlight() int { return int(b.g.inflight.Load()) }

// Queued returns the number of calls waiting for a slot.
func (b *Bulkhead) Queued() int { return int(b.g.waiting.Load()) }

// Middleware returns next wrapped so that each request holds a slot of
// the bulkhead while next serves it. A shed request is answered by the
// error handler (by default a 503 problem+json with Retry-After).
// Overload middleware belongs outside breaker.Middleware, so shed requests
// never count as failures of the route's breaker. On a nil *Bulkhead it
// limits nothing and logs that at Error, as for a limiter with no rate.
func (b *Bulkhead) Middleware(next http.Handler) http.Handler {
	if b == nil {
		slog.Error("overload: Middleware of a nil *Bulkhead: nothing is limited")
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.handler.filter != nil && !b.handler.filter(r) {
			next.ServeHTTP(w, r)
			return
		}
		release, err := b.Acquire(r.Context())
		if err != nil {
			b.handler.onError(w, r, err)
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// Name returns the bulkhead's name.
func (b *Bulkhead) Name() string { return b.g.name }
