package redisidempotency

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/internal/redisx"
)

var _ idempotency.Store = (*Store)(nil)

// Store is an idempotency.Store in Redis, shared by every instance of a
// service that uses the same Redis and prefix: a key claimed on one
// instance is in progress, and its response replayed, on all of them.
// Each method is one round trip, atomic in Redis. A Store is safe for
// concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// New returns a Store on client. client may be a *redis.Client,
// *redis.ClusterClient or *redis.Ring, and must not be nil; their options
// must have ContextTimeoutEnabled set: without it go-redis ignores the
// deadline WithTimeout puts on a call, and a Redis that stops answering
// would hold each call for the client's read timeout (3 s by default).
// New checks it for those three types; a client of another type is
// trusted to honour deadlines.
//
// New calls nothing in Redis: a Redis that is down at start fails the
// calls, as one that goes down later does.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := redisx.CheckClient("redisidempotency: New", client); err != nil {
		return nil, err
	}
	return &Store{client: client, prefix: c.prefix, timeout: c.timeout}, nil
}

var (
	errNilStore  = errors.New("redisidempotency: nil *Store")
	errNilRecord = errors.New("redisidempotency: nil *idempotency.Record")
)

// Begin claims key for rec, which it stores in progress (rec's Done and
// Response are ignored) for lockTTL, and returns (nil, nil); when a
// record holds the key it stores nothing and returns that record. A
// record of rec's own token in progress counts as claimed by rec: it is
// what a Begin that go-redis retried after its reply was lost finds.
// lockTTL must be positive; Redis keeps it to the millisecond, rounded
// up.
func (s *Store) Begin(ctx context.Context, key string, rec *idempotency.Record, lockTTL time.Duration) (*idempotency.Record, error) {
	if err := s.check(ctx, "Begin", rec, lockTTL); err != nil {
		return nil, err
	}
	call, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := begin.Run(call, s.client, []string{s.prefix + key}, encode(rec, false), millis(lockTTL)).Result()
	if err != nil {
		return nil, s.fail(ctx, call, "Begin", err)
	}
	switch v := res.(type) {
	case int64:
		return nil, nil
	case string:
		existing, err := decode(v)
		if err != nil {
			return nil, fmt.Errorf("redisidempotency: Begin: the stored value is not a record: %w", err)
		}
		if !existing.Done && existing.Token == rec.Token {
			return nil, nil
		}
		return existing, nil
	}
	return nil, fmt.Errorf("redisidempotency: Begin: unexpected reply %T from Redis", res)
}

// Complete replaces the record of key that rec.Token holds with rec,
// done, kept for ttl. It returns idempotency.ErrNotHeld when the record
// is gone or another token's. ttl must be positive; Redis keeps it to the
// millisecond, rounded up.
func (s *Store) Complete(ctx context.Context, key string, rec *idempotency.Record, ttl time.Duration) error {
	if err := s.check(ctx, "Complete", rec, ttl); err != nil {
		return err
	}
	call, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := complete.Run(call, s.client, []string{s.prefix + key}, holder(rec.Token), encode(rec, true), millis(ttl)).Int64()
	if err != nil {
		return s.fail(ctx, call, "Complete", err)
	}
	if n == 0 {
		return idempotency.ErrNotHeld
	}
	return nil
}

// Release deletes the record of key if token holds it in progress, so
// that a retry runs again. It returns idempotency.ErrNotHeld when the
// record is gone, another token's, or done: a stored response is never
// deleted.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if s == nil {
		return errNilStore
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisidempotency: Release: %w", err)
	}
	call, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := release.Run(call, s.client, []string{s.prefix + key}, holderBegun(token)).Int64()
	if err != nil {
		return s.fail(ctx, call, "Release", err)
	}
	if n == 0 {
		return idempotency.ErrNotHeld
	}
	return nil
}

// Get returns the record of key, or (nil, nil) when there is none. A
// value under the key that this package did not write is an error.
func (s *Store) Get(ctx context.Context, key string) (*idempotency.Record, error) {
	if s == nil {
		return nil, errNilStore
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisidempotency: Get: %w", err)
	}
	call, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := s.client.Get(call, s.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(ctx, call, "Get", err)
	}
	rec, err := decode(v)
	if err != nil {
		return nil, fmt.Errorf("redisidempotency: Get: the stored value is not a record: %w", err)
	}
	return rec, nil
}

// check validates a call before it goes to Redis.
func (s *Store) check(ctx context.Context, op string, rec *idempotency.Record, ttl time.Duration) error {
	switch {
	case s == nil:
		return errNilStore
	case rec == nil:
		return errNilRecord
	case ttl <= 0:
		return errors.New("redisidempotency: " + op + ": the TTL must be positive")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisidempotency: %s: %w", op, err)
	}
	return nil
}

// fail wraps the error of a call to Redis, made with ctx, the caller's
// context, bounded by the store's timeout in call. When the caller's
// context ended (or its deadline passed: go-redis reports a deadline as
// the connection's i/o timeout, maybe before the context says it is
// done), the error wraps the context's error; otherwise it is an
// *unavailableError.
func (s *Store) fail(ctx, call context.Context, op string, err error) error {
	now := time.Now()
	cause := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cause == nil && !now.Before(dl) {
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		return fmt.Errorf("redisidempotency: %s: %w: %w", op, cause, err)
	}
	dl, _ := call.Deadline()
	return &unavailableError{op: op, timeout: s.timeout, err: err, timedOut: !now.Before(dl)}
}

// unavailableError is a call Redis did not answer, or answered with an
// error. It declares 503: the store could not say whether the key is
// free, so the request is refused rather than run twice.
type unavailableError struct {
	op       string
	timeout  time.Duration
	timedOut bool
	err      error
}

func (e *unavailableError) Error() string {
	if e.timedOut {
		return "redisidempotency: " + e.op + ": no answer from Redis within " + e.timeout.String() + ": " + e.err.Error()
	}
	return "redisidempotency: " + e.op + ": " + e.err.Error()
}

func (e *unavailableError) Unwrap() error { return e.err }

// HTTPStatus is 503 Service Unavailable.
func (e *unavailableError) HTTPStatus() int { return http.StatusServiceUnavailable }

// millis is d in whole milliseconds, rounded up: Redis's PX.
func millis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}
