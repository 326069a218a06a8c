package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/registry"
)

// Guard executes each request carrying an idempotency key at most once
// and replays the stored response to its retries. Build it with New; its
// Middleware serves HTTP, package idempotencygrpc serves gRPC, and Do
// serves anything else. A Guard is safe for concurrent use.
type Guard struct {
	name    string
	cfg     config
	store   Store
	fast    *MemoryStore // the store when it is a MemoryStore: used directly, and reported
	counter *otelx.IdempotencyCounter
	onError func(http.ResponseWriter, *http.Request, error)

	// Counted on the rare paths only, for the status page.
	conflicts, mismatches, released, storeErrors atomic.Uint64
	lastStoreError                               atomic.Int64 // unix nanoseconds
	refusals                                     *registry.PerMinute
}

// New returns a Guard named name (the paved.idempotency.name of its
// metrics and its row on the status page; "" registers no row), with
// the defaults described in the package documentation changed by opts.
func New(name string, opts ...Option) (*Guard, error) {
	c := newConfig()
	if err := applyOptions(&c, forGuard, opts); err != nil {
		return nil, err
	}
	if c.lockTimeout > c.ttl {
		return nil, errors.New("idempotency: WithLockTimeout (" + c.lockTimeout.String() + ") exceeds WithTTL (" + c.ttl.String() + ")")
	}
	if c.fingerprint != nil && c.fields != nil {
		return nil, errors.New("idempotency: WithFingerprint and WithFingerprintFields exclude each other")
	}
	if c.storeStatus == nil {
		c.storeStatus = defaultStoreStatus
	}
	counter, err := otelx.IdempotencyRequests(c.meterProvider, name)
	if err != nil {
		return nil, errors.New("idempotency: " + err.Error())
	}
	g := &Guard{name: name, cfg: c, store: c.store, counter: counter, onError: c.errorHandler,
		refusals: registry.NewPerMinute(time.Now())}
	if g.store == nil {
		g.store, _ = NewMemoryStore()
	}
	g.fast, _ = g.store.(*MemoryStore)
	if g.onError == nil {
		g.onError = g.writeError
	}
	registry.Add(registry.KindIdempotency, name, g, report)
	return g, nil
}

// Name returns the name the Guard was built with ("" for a nil *Guard).
func (g *Guard) Name() string {
	if g == nil {
		return ""
	}
	return g.name
}

// Store returns the store the Guard keeps its records in (a nil *Guard:
// the default Guard's).
func (g *Guard) Store() Store {
	if g == nil {
		g = defaultGuard()
	}
	return g.store
}

// Call describes one request to Do.
type Call struct {
	// Scope is whose keys this one is told apart from: the principal or
	// client. Calls of two scopes never share a record.
	Scope string
	// Method and Route name the operation (HTTP method and route
	// pattern; for gRPC the full method and ""). Calls of two operations
	// never share a record.
	Method, Route string
	// Key is the client's idempotency key.
	Key string
	// Fingerprint identifies the request's content; a later call with
	// the same key and another fingerprint gets ErrMismatch.
	Fingerprint string
}

// StoreKey returns the key the call's record is stored under: a SHA-256
// hash of the guard's name, the scope, the operation and the key, in hex.
func (g *Guard) StoreKey(c Call) string {
	if g == nil {
		g = defaultGuard()
	}
	var key [storeKeyLen]byte
	g.storeKey(&key, c.Scope, "", c.Method, c.Route, c.Key)
	return string(key[:])
}

const storeKeyLen = 2 * sha256.Size

// storeKey writes StoreKey to dst, for the scope scope+scope2 (the
// Middleware's scope is a prefix and a name, never joined in memory).
func (g *Guard) storeKey(dst *[storeKeyLen]byte, scope, scope2, method, route, key string) {
	var buf [512]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(g.name)))
	b = append(b, g.name...)
	b = binary.AppendUvarint(b, uint64(len(scope)+len(scope2)))
	b = append(append(b, scope...), scope2...)
	for _, s := range [...]string{method, route, key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	hex.Encode(dst[:], sum[:])
}

// Do runs fn for the first call with c's key and stores the response fn
// returns, or releases the key when fn returns nil (the outcome was not
// final, say a 5xx: a retry runs again). A response whose body exceeds
// WithMaxResponse is recorded as StatusNotStored. A later call with the key and
// the same fingerprint gets the stored response with replayed true,
// without running fn. resp is fn's response when fn ran.
//
// The errors are ErrInProgress (the first call has not finished, after
// waiting up to WithWait), ErrMismatch (another fingerprint; checked
// before any response is returned, whichever way the record was found),
// ErrNotReplayable (a response that was not stored) and ErrUnavailable
// (the store failed; with WithFailOpen, fn runs instead, unprotected). If
// fn panics, the key is released and the panic goes on. A nil *Guard is
// the package's default Guard, as for Middleware.
func (g *Guard) Do(ctx context.Context, c Call, fn func(context.Context) *Response) (resp *Response, replayed bool, err error) {
	if g == nil {
		g = defaultGuard()
	}
	var key [storeKeyLen]byte
	g.storeKey(&key, c.Scope, "", c.Method, c.Route, c.Key)
	var fp [128]byte
	return g.do(ctx, key[:], append(fp[:0], c.Fingerprint...), fn, false)
}

// do is Do with the stored key and the fingerprint as bytes. A guard
// that uses its MemoryStore directly reads the stored record in place;
// with guarded (the Middleware calling) the caller only reads the
// response it gets back, and fn's response header is its own to store;
// else the caller gets a copy, as from any store.
func (g *Guard) do(ctx context.Context, key, fp []byte, fn func(context.Context) *Response, guarded bool) (resp *Response, replayed bool, err error) {
	var deadline time.Time
	var delay time.Duration
	mem := g.fast
	for {
		var existing *Record
		var skey, token, fingerprint string
		if mem != nil {
			if ctx.Err() != nil { // as MemoryStore.Begin
				return nil, false, context.Cause(ctx)
			}
			existing, skey, token, fingerprint = mem.claim(key, fp, g.cfg.lockTimeout)
		} else {
			skey, token, fingerprint = claimStrings(key, fp)
			existing, err = g.store.Begin(ctx, skey, &Record{Token: token, Fingerprint: fingerprint}, g.cfg.lockTimeout)
			if err != nil {
				if ctx.Err() != nil { // the caller is gone: nothing ran, nothing failed
					return nil, false, context.Cause(ctx)
				}
				return g.storeFailed(ctx, err, fn)
			}
		}
		if existing == nil {
			return g.run(ctx, skey, token, fingerprint, fn, guarded), false, nil
		}
		for existing != nil {
			// Payload validation comes first on every path: a record
			// found by Begin, by Get after a wait, done or in progress.
			if existing.Fingerprint != string(fp) {
				g.refuse(ctx, otelx.IdempotencyMismatch, otelx.EventIdempotencyMismatch, &g.mismatches)
				return nil, false, ErrMismatch
			}
			if existing.Done {
				if existing.Response.Status == StatusNotStored {
					return nil, false, ErrNotReplayable
				}
				g.counter.Add(ctx, otelx.IdempotencyReplayed)
				otelx.AddEvent(ctx, otelx.EventIdempotencyReplayed)
				if mem != nil && !guarded {
					existing = cloneRecord(existing)
				}
				return &existing.Response, true, nil
			}
			if g.cfg.wait <= 0 {
				g.refuse(ctx, otelx.IdempotencyConflict, otelx.EventIdempotencyConflict, &g.conflicts)
				return nil, false, errInProgress
			}
			now := time.Now()
			if deadline.IsZero() {
				deadline, delay = now.Add(g.cfg.wait), 5*time.Millisecond
			}
			if !now.Before(deadline) || !sleep(ctx, min(delay, deadline.Sub(now))) {
				g.refuse(ctx, otelx.IdempotencyConflict, otelx.EventIdempotencyConflict, &g.conflicts)
				return nil, false, errInProgress
			}
			delay = min(2*delay, 100*time.Millisecond)
			if mem != nil {
				if ctx.Err() != nil { // as MemoryStore.Get
					return nil, false, context.Cause(ctx)
				}
				existing = mem.peek(key)
			} else if existing, err = g.store.Get(ctx, string(key)); err != nil {
				if ctx.Err() != nil {
					return nil, false, context.Cause(ctx)
				}
				return g.storeFailed(ctx, err, fn)
			}
		}
		// The first call released the key while we waited: claim it.
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// run runs fn holding key and stores or releases its outcome.
func (g *Guard) run(ctx context.Context, key, token, fingerprint string, fn func(context.Context) *Response, guarded bool) *Response {
	g.counter.Add(ctx, otelx.IdempotencyNew)
	done := false
	defer func() {
		if !done { // fn panicked
			g.release(ctx, key, token)
		}
	}()
	resp := fn(ctx)
	done = true
	if resp == nil {
		g.release(ctx, key, token)
		return nil
	}
	stored := resp
	if len(resp.Body) > g.cfg.maxResponse {
		stored = &Response{Status: StatusNotStored}
	}
	var err error
	if g.fast != nil {
		err = g.fast.complete(key, token, fingerprint, stored, g.cfg.ttl, guarded)
	} else {
		err = g.store.Complete(context.WithoutCancel(ctx), key, &Record{Token: token, Fingerprint: fingerprint, Done: true, Response: *stored}, g.cfg.ttl)
	}
	if err != nil {
		if errors.Is(err, ErrNotHeld) {
			g.cfg.log().LogAttrs(ctx, slog.LevelWarn, "idempotency: response not stored: the key's lock timed out while the request ran",
				slog.String("guard", g.name), slog.Duration("lock_timeout", g.cfg.lockTimeout))
		} else {
			g.storeError(ctx, err)
		}
	}
	return resp
}

func (g *Guard) release(ctx context.Context, key, token string) {
	g.counter.Add(ctx, otelx.IdempotencyReleased)
	otelx.AddEvent(ctx, otelx.EventIdempotencyReleased)
	g.released.Add(1)
	if err := g.store.Release(context.WithoutCancel(ctx), key, token); err != nil && !errors.Is(err, ErrNotHeld) {
		g.storeError(ctx, err)
	}
}

func (g *Guard) refuse(ctx context.Context, result int, event string, n *atomic.Uint64) {
	g.counter.Add(ctx, result)
	otelx.AddEvent(ctx, event)
	n.Add(1)
}

func (g *Guard) storeError(ctx context.Context, err error) {
	g.counter.Add(ctx, otelx.IdempotencyError)
	otelx.AddEvent(ctx, otelx.EventIdempotencyError)
	g.storeErrors.Add(1)
	g.lastStoreError.Store(time.Now().UnixNano())
	g.cfg.log().LogAttrs(ctx, slog.LevelError, "idempotency: store failed",
		slog.String("guard", g.name), slog.Bool("fail_open", g.cfg.failOpen), slog.String("error", err.Error()))
}

func (g *Guard) storeFailed(ctx context.Context, err error, fn func(context.Context) *Response) (*Response, bool, error) {
	g.storeError(ctx, err)
	if g.cfg.failOpen {
		return fn(ctx), false, nil
	}
	return nil, false, &storeError{err: err}
}

// storeError is ErrUnavailable with the store's error, for logs; its
// message (what a client sees) is ErrUnavailable's.
type storeError struct{ err error }

func (e *storeError) Error() string   { return ErrUnavailable.Error() }
func (e *storeError) Unwrap() []error { return []error{ErrUnavailable, e.err} }
func (e *storeError) HTTPStatus() int { return http.StatusServiceUnavailable }

// tokenPrefix makes this process's tokens unique among the processes
// sharing a store; a counter makes them unique within it, without asking
// the system for randomness per request.
var (
	tokenPrefix = func() (p [16]byte) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		hex.Encode(p[:], b[:])
		return p
	}()
	tokenSeq atomic.Uint64
)

const tokenLen = 32

// claimStrings returns the stored key, a new token and the fingerprint
// as strings, in one allocation.
func claimStrings(key, fp []byte) (k, token, fingerprint string) {
	var b strings.Builder
	b.Grow(len(key) + tokenLen + len(fp))
	b.Write(key)
	var t [tokenLen]byte
	copy(t[:], tokenPrefix[:])
	n := tokenSeq.Add(1)
	for i := tokenLen - 1; i >= 16; i-- {
		t[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	b.Write(t[:])
	b.Write(fp)
	s := b.String()
	return s[:len(key)], s[len(key) : len(key)+tokenLen], s[len(key)+tokenLen:]
}
