package redisrate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/redisx"
	"github.com/paved-go/paved/ratelimit"
)

var _ ratelimit.Decider = (*Limiter)(nil)

// Limiter is a set of token buckets of one quota, one per key, kept in
// Redis and shared by every instance that uses the same name and prefix
// on the same Redis. It implements ratelimit.Decider, so it serves
// ratelimit.Policy, ratelimit.NewEnforcer and ratelimitgrpc as a
// *ratelimit.Keyed does. A Limiter is safe for concurrent use.
type Limiter struct {
	name    string
	client  redis.UniversalClient
	bucket  bucket
	head    string // prefix + name + ":{", the start of every key
	argT    any    // the emission interval, as gcra reads it (boxed once)
	argB    any    // the burst (boxed once)
	args1   []any  // gcra's arguments for one token, read only
	timeout time.Duration

	fallback Fallback
	local    *ratelimit.Keyed // the Local fallback's buckets
	cb       *breaker.Breaker
	logger   *slog.Logger // nil: slog.Default()

	fallbacks  *otelx.Counter
	outage     atomic.Bool  // the breaker cut Redis off; cleared by the next answer
	outageN    atomic.Int64 // fallback decisions since the outage began
	nextLog    atomic.Int64 // unix nanoseconds before which no failure is logged
	suppressed atomic.Int64 // failure lines skipped since the last one
}

// New returns a limiter named name whose buckets, in Redis through
// client, refill at limit tokens per second and hold burst tokens, each
// starting full, as ratelimit.NewKeyed(limit, burst) would. limit must be
// positive (rate.Inf allows everything and never calls Redis) and burst at
// least 1.
//
// name says which buckets are shared: it is part of every key, so the
// instances of a service share a limit by using the same name (and
// prefix) on the same Redis, while two limiters of different names never
// share a bucket even for the same key. It also names the limiter in log
// lines, in the paved.ratelimit.fallbacks metric, and its breaker
// ("redisrate:" + name). It must be printable ASCII, not empty, without
// '{' or '}'.
//
// client may be a *redis.Client, *redis.ClusterClient or *redis.Ring, and
// must not be nil. Their options must have ContextTimeoutEnabled set:
// without it go-redis ignores the deadline WithTimeout puts on a call,
// and a Redis that stops answering would hold each decision for the
// client's read timeout (3 s by default). New checks it for those three
// types; a client of another type is trusted to honour deadlines.
//
// New calls nothing in Redis: a Redis that is down at start is the
// fallback's business, like one that goes down later.
func New(name string, client redis.UniversalClient, limit rate.Limit, burst int, opts ...Option) (*Limiter, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if name == "" || !redisx.ValidKeyPart(name) {
		return nil, errors.New("redisrate: New: name must be printable ASCII, not empty, without '{' or '}'")
	}
	if err := redisx.CheckClient("redisrate: New", client); err != nil {
		return nil, err
	}
	if !(limit > 0) {
		return nil, errors.New("redisrate: New: limit must be positive")
	}
	if burst < 1 {
		return nil, errors.New("redisrate: New: burst must be at least 1")
	}
	local, err := ratelimit.NewKeyed(limit, burst, ratelimit.WithMaxKeys(c.maxKeys))
	if err != nil {
		return nil, errors.New("redisrate: " + err.Error())
	}
	bopts := append([]breaker.Option{
		breaker.WithOpenDuration(DefaultBreakerOpenDuration),
		breaker.WithLogger(c.logger),
		breaker.WithMeterProvider(c.mp),
	}, c.breakerOpts...)
	cb, err := breaker.New("redisrate:"+name, bopts...)
	if err != nil {
		return nil, errors.New("redisrate: WithBreaker: " + err.Error())
	}
	fallbacks, err := otelx.RateLimitFallbacks(c.mp, name)
	if err != nil {
		return nil, errors.New("redisrate: " + err.Error())
	}
	b := newBucket(ratelimit.Quota{Limit: limit, Burst: burst})
	argT, argB := any(strconv.FormatFloat(b.interval, 'g', -1, 64)), any(strconv.Itoa(burst))
	return &Limiter{
		name:      name,
		client:    client,
		bucket:    b,
		head:      c.prefix + name + ":{",
		argT:      argT,
		argB:      argB,
		args1:     []any{argT, argB, 1},
		timeout:   c.timeout,
		fallback:  c.fallback,
		local:     local,
		cb:        cb,
		logger:    c.logger,
		fallbacks: fallbacks,
	}, nil
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Quota returns the quota of every bucket; the zero Quota for a nil
// *Limiter.
func (l *Limiter) Quota() ratelimit.Quota {
	if l == nil {
		return ratelimit.Quota{}
	}
	return l.bucket.quota
}

// Allow takes one token from key's bucket if it holds one now.
func (l *Limiter) Allow(ctx context.Context, key string) ratelimit.Decision {
	return l.decide(ctx, key, 1, "")
}

// AllowN takes n tokens from key's bucket if it holds them now, by
// Redis's clock, and reports the decision either way, as
// ratelimit.Keyed.AllowN does: n < 1 takes nothing and is allowed, and n
// above the burst is never allowed (RetryAfter is rate.InfDuration).
// RetryAfter is a whole number of microseconds, Redis's clock's
// resolution. When Redis cannot decide (an error, no answer within the
// timeout, an open breaker), the fallback does; the metrics and logs say
// so.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) ratelimit.Decision {
	return l.decide(ctx, key, n, "")
}

// Decide implements ratelimit.Decider: it is AllowN, and its error is
// nil, since the fallback decides when Redis cannot. Only a nil *Limiter
// (in a Policy, say) fails, so that the middleware lets requests through
// and logs the mistake instead of panicking.
func (l *Limiter) Decide(ctx context.Context, key string, n int) (ratelimit.Decision, error) {
	if l == nil {
		return ratelimit.Decision{}, errNil
	}
	return l.decide(ctx, key, n, ""), nil
}

var errNil = errors.New("redisrate: nil *Limiter")

// decide is AllowN at the server's time, or at the time at (microseconds)
// when it is not empty (tests).
func (l *Limiter) decide(ctx context.Context, key string, n int, at string) ratelimit.Decision {
	if l.bucket.quota.Limit == rate.Inf {
		return ratelimit.Decision{Allowed: true, Remaining: l.bucket.quota.Burst}
	}
	d, err := breaker.CallWithFallback(ctx, l.cb, func(ctx context.Context) (ratelimit.Decision, error) {
		return l.shared(ctx, key, n, at)
	}, passError)
	if err != nil {
		return l.fallBack(ctx, key, n, err)
	}
	if l.outage.Load() {
		l.resumed(ctx)
	}
	return d
}

// testTTL is how many milliseconds longer keys written at a test's time
// live: long enough for any test, whose clock does not move Redis's.
const testTTL = 60_000

// passError is the breaker's fallback: the limiter's own comes after, and
// one given with WithBreaker(breaker.WithFallback(...)) must not turn a
// failure into a zero Decision.
func passError(_ context.Context, err error) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, err
}

// shared makes the decision in Redis, within the timeout.
func (l *Limiter) shared(ctx context.Context, key string, n int, at string) (ratelimit.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	keys := []string{l.key(key)}
	var cmd *redis.Cmd
	switch {
	case at == "" && n == 1:
		// Allow's arguments, built once: go-redis copies them into the
		// command and keeps nothing.
		cmd = gcra.Run(ctx, l.client, keys, l.args1...)
	case at == "":
		cmd = gcra.Run(ctx, l.client, keys, l.argT, l.argB, n)
	default:
		cmd = gcra.Run(ctx, l.client, keys, l.argT, l.argB, n, at, testTTL)
	}
	v, err := cmd.Result()
	if err != nil {
		return ratelimit.Decision{}, err
	}
	r, err := parseReply(v)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return l.bucket.decision(r, n), nil
}

// maxKeyLen is the longest key used as it is, as in package ratelimit; a
// longer one is replaced by its SHA-256 digest, so a client cannot make
// Redis hold keys as long as it likes.
const maxKeyLen = 64

// key returns the Redis key of key's bucket: prefix + name + ":{" + key +
// "}". The braces are a Redis Cluster hash tag, so a Cluster places a
// bucket by its key alone.
func (l *Limiter) key(key string) string {
	if len(key) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		var b [1 + 43]byte // '#' and base64url of 32 bytes
		b[0] = '#'
		base64.RawURLEncoding.Encode(b[1:], sum[:])
		return l.head + string(b[:]) + "}"
	}
	return l.head + key + "}"
}
