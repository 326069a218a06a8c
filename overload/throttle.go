package overload

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/registry"
)

// ErrThrottled is the error a Throttle rejects a call with: the client
// itself declined to send it, because the backend has lately been
// refusing more than 1/K of what it was sent (see Throttle). It maps to
// HTTP 503 Service Unavailable and gRPC UNAVAILABLE, and carries no retry
// delay: the call never reached the backend, which gave no advice.
var ErrThrottled = httpx.NewError(http.StatusServiceUnavailable, "overload: throttled by the client")

// DefaultThrottleWindow is the window a Throttle counts requests and
// accepts over unless WithThrottleWindow says otherwise: two minutes, as the
// Google SRE book suggests.
const DefaultThrottleWindow = 2 * time.Minute

// DefaultThrottleK is the multiplier K of a Throttle unless WithK says
// otherwise: a backend may refuse up to half of the requests before the
// client starts rejecting locally.
const DefaultThrottleK = 2.0

// throttleBuckets is the number of buckets a window is divided into: the
// window slides by window/throttleBuckets.
const throttleBuckets = 20

// throttleConfig is the part of config NewThrottle reads.
type throttleConfig struct {
	k      float64
	window time.Duration
	rand   func() float64
}

func defaultThrottleConfig() throttleConfig {
	return throttleConfig{k: DefaultThrottleK, window: DefaultThrottleWindow}
}

// Throttle is client-side adaptive throttling, as the Google SRE book
// describes it ("Handling Overload", client request rejection). Over a
// sliding window it counts the requests the client attempted and the
// accepts, the requests the backend did not refuse for overload. Each new
// request is rejected locally, without being sent, with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so that once the backend refuses more than 1/K of what it is sent, the
// client sends only a little more than the backend accepts: the backend
// spends its capacity serving requests rather than refusing them, and the
// few requests still sent tell the client when it has recovered. Locally
// rejected requests count as requests, so the rejection rate rises while
// the backend keeps refusing.
//
// A Throttle is safe for concurrent use. Its zero value is not usable:
// build one with NewThrottle. A nil *Throttle (a NewThrottle error
// ignored) throttles nothing: Allow always admits and Accept does
// nothing.
type Throttle struct {
	name      string
	k         float64
	width     int64 // bucket width, ns
	rand      func() float64
	decisions *otelx.Counter // paved.overload.throttle.decisions

	mu       sync.Mutex
	cur      int64 // index of the newest bucket: unix ns / width
	requests int64 // sums over the window
	accepts  int64
	buckets  [throttleBuckets]throttleBucket

	throttled     atomic.Uint64       // requests rejected locally, for the status page
	throttledRate *registry.PerMinute // nil when not registered
}

type throttleBucket struct{ requests, accepts int64 }

func newThrottle(name string, c throttleConfig, decisions *otelx.Counter) *Throttle {
	t := &Throttle{name: name, k: c.k, rand: c.rand, decisions: decisions}
	t.width = int64(c.window) / throttleBuckets
	if t.width < 1 {
		t.width = 1
	}
	if t.rand == nil {
		t.rand = rand.Float64
	}
	t.cur = time.Now().UnixNano() / t.width
	return t
}

// Name returns the name the Throttle was built with.
func (t *Throttle) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// advance slides the window to now. t.mu is held.
func (t *Throttle) advance(now int64) {
	idx := now / t.width
	if idx <= t.cur {
		return
	}
	n := idx - t.cur
	if n > throttleBuckets {
		n = throttleBuckets
	}
	for i := int64(1); i <= n; i++ {
		b := &t.buckets[(t.cur+i)%throttleBuckets]
		t.requests -= b.requests
		t.accepts -= b.accepts
		*b = throttleBucket{}
	}
	t.cur = idx
}

func (t *Throttle) probability() float64 {
	p := (float64(t.requests) - t.k*float64(t.accepts)) / float64(t.requests+1)
	if p < 0 {
		return 0
	}
	return p
}

// Allow decides whether to send a request. It returns nil when the
// request may be sent, and ErrThrottled, with the probability Probability
// returned just before the call, when the client should reject it
// locally; a rejected request counts as a request at once. A sent request
// counts once its outcome is known: report the backend's answer with
// Accept when it did not refuse the request for overload, Refuse when it
// did. Requests still in flight do not count, so a burst of slow calls
// from a cold start is not throttled before the backend refused any. A
// sent request reported neither way (abandoned) never counts. ctx is the
// context metrics are recorded with.
func (t *Throttle) Allow(ctx context.Context) error {
	if t == nil {
		return nil
	}
	now := time.Now().UnixNano()
	t.mu.Lock()
	t.advance(now)
	p := t.probability()
	reject := p > 0 && t.rand() < p
	if reject {
		t.requests++
		t.buckets[t.cur%throttleBuckets].requests++
	}
	t.mu.Unlock()
	if reject {
		t.throttled.Add(1)
		t.decisions.Add(ctx, otelx.ThrottleThrottled)
		return ErrThrottled
	}
	t.decisions.Add(ctx, otelx.ThrottleSent)
	return nil
}

// Accept counts a request that Allow let through and the backend
// answered without refusing it for overload: a request and an accept.
func (t *Throttle) Accept() { t.record(true) }

// Refuse counts a request that Allow let through and the backend refused
// for overload (429, 503, RESOURCE_EXHAUSTED, UNAVAILABLE): a request
// without an accept.
func (t *Throttle) Refuse() { t.record(false) }

func (t *Throttle) record(accepted bool) {
	if t == nil {
		return
	}
	now := time.Now().UnixNano()
	t.mu.Lock()
	t.advance(now)
	t.requests++
	t.buckets[t.cur%throttleBuckets].requests++
	if accepted {
		t.accepts++
		t.buckets[t.cur%throttleBuckets].accepts++
	}
	t.mu.Unlock()
}

// Probability returns the probability with which the next request would
// be rejected locally: max(0, (requests − K·accepts) / (requests + 1))
// over the window.
func (t *Throttle) Probability() float64 {
	if t == nil {
		return 0
	}
	now := time.Now().UnixNano()
	t.mu.Lock()
	t.advance(now)
	p := t.probability()
	t.mu.Unlock()
	return p
}

// Counts returns the requests and accepts counted over the window.
func (t *Throttle) Counts() (requests, accepts int64) {
	if t == nil {
		return 0, 0
	}
	now := time.Now().UnixNano()
	t.mu.Lock()
	t.advance(now)
	requests, accepts = t.requests, t.accepts
	t.mu.Unlock()
	return requests, accepts
}

// IsOverloadStatus reports whether an HTTP status is the backend saying
// it is overloaded: 429 Too Many Requests and 503 Service Unavailable.
// Every other status is an accept for a Throttle, client errors and other
// 5xx included: 500 is a bug, and 502 Bad Gateway and 504 Gateway Timeout
// come from a proxy that could not reach or hear from the backend, which
// is a failure for a breaker (package breaker) to count, not a refusal.
func IsOverloadStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
}

// Transport returns a RoundTripper that sends each request through t: a
// request t rejects fails with an error unwrapping to ErrThrottled
// without touching the network (its body, if any, is closed); a response
// with a status other than 429 or 503 (see IsOverloadStatus) counts as an
// accept. A transport error counts as an accept too: the backend did not
// say it was overloaded, and a failing backend is the business of a
// breaker. A nil base means paved's
// default base transport.
func (t *Throttle) Transport(base http.RoundTripper) http.RoundTripper {
	return &throttleTransport{base: httpx.BaseTransport(base), t: t}
}

type throttleTransport struct {
	base http.RoundTripper
	t    *Throttle
}

func (tt *throttleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := tt.t.Allow(r.Context()); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err
	}
	resp, err := tt.base.RoundTrip(r)
	if err == nil && IsOverloadStatus(resp.StatusCode) {
		tt.t.Refuse()
	} else {
		tt.t.Accept()
	}
	return resp, err
}

// NewThrottle returns a Throttle named name (the subject of its metrics
// and log lines, such as the backend's host) with K = 2 over a window of
// two minutes, unless WithK and WithThrottleWindow say otherwise. It accepts WithK,
// WithThrottleWindow, WithRandom and WithMeterProvider (its decisions are the
// paved.overload.throttle.decisions metric: "sent" or "throttled", with
// paved.overload.name = name); WithLogger is accepted and unused, as a
// Throttle logs nothing. Every bad option is reported at once, in an error
// prefixed "overload: ".
func NewThrottle(name string, opts ...Option) (*Throttle, error) {
	c := newConfig()
	c.throttle = defaultThrottleConfig()
	if err := applyOptions(&c, forThrottle, opts); err != nil {
		return nil, err
	}
	decisions, err := otelx.ThrottleDecisions(c.meterProvider, name)
	if err != nil {
		return nil, errors.New("overload: NewThrottle: " + err.Error())
	}
	t := newThrottle(name, c.throttle, decisions)
	t.register()
	return t, nil
}

// WithK sets a Throttle's multiplier K (NewThrottle only; default 2): the
// backend may refuse up to 1 − 1/K of the requests before the client
// starts rejecting locally. A lower K rejects sooner and wastes less of
// the backend's capacity on refusals; a higher K reacts later and lets
// more requests probe the backend. k must be a finite number of at least 1.
func WithK(k float64) Option {
	return newOption("WithK", forThrottle, func(c *config) error {
		if !(k >= 1) || math.IsInf(k, 1) {
			return errors.New("overload: WithK: k must be a finite number of at least 1")
		}
		c.throttle.k = k
		return nil
	})
}

// WithThrottleWindow sets the window a Throttle counts requests and accepts over
// (NewThrottle only; default DefaultThrottleWindow, two minutes). The
// window slides in steps of d/20. d must be at least 20 ms.
func WithThrottleWindow(d time.Duration) Option {
	return newOption("WithThrottleWindow", forThrottle, func(c *config) error {
		if d < 20*time.Millisecond {
			return errors.New("overload: WithThrottleWindow: the window must be at least 20ms")
		}
		c.throttle.window = d
		return nil
	})
}

// WithRandom sets the source of a Throttle's random draws (NewThrottle
// only): f returns a number in [0, 1), and a request is rejected when the
// draw is below the rejection probability. The default is
// math/rand/v2.Float64. Tests pass a fixed sequence to make rejections
// deterministic. f must be safe for concurrent use when the Throttle is
// used concurrently, and must not be nil.
func WithRandom(f func() float64) Option {
	return newOption("WithRandom", forThrottle, func(c *config) error {
		if f == nil {
			return errors.New("overload: WithRandom: nil func")
		}
		c.throttle.rand = f
		return nil
	})
}
