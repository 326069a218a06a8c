package rediscache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/internal/redisx"
)

// Level is a cache.SecondLevel on Redis, shared by the instances of a
// service: give it to cache.New with cache.WithSecondLevel. It is safe
// for concurrent use. Each cache needs its own Level, and each Level
// serves one cache.
type Level[K comparable, V any] struct {
	name     string
	client   redis.UniversalClient
	cfg      *config
	keys     keyCodec[K]
	prefix   string
	channel  string
	token    string // this instance's lock token and invalidation sender
	lockMs   int64
	br       *breaker.Breaker
	requests *otelx.Counter

	mu     sync.Mutex
	c      *cache.Cache[K, V]
	ps     *redis.PubSub
	stop   context.CancelFunc
	done   chan struct{}
	closed bool
}

// New returns a second level named name (the name of the cache it will
// serve: it labels metrics and the breaker, and is part of the default
// key prefix) storing values in Redis through client, which may be a
// *redis.Client, *redis.ClusterClient or *redis.Ring built with
// ContextTimeoutEnabled (without it go-redis ignores the deadline of
// WithTimeout, and a stalled Redis would hold every load for the client's
// read timeout). New fails on an empty name, a nil client, a client that
// ignores deadlines, an invalid option, and a key type other than string
// or an integer type without WithKeyCodec. It makes no Redis
// call: Redis may be down when a service starts.
func New[K comparable, V any](name string, client redis.UniversalClient, opts ...Option) (*Level[K, V], error) {
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("rediscache: empty name"))
	}
	if err := redisx.CheckClient("rediscache", client); err != nil {
		errs = append(errs, err)
	}
	cfg := &config{codec: JSON, timeout: DefaultTimeout, lockTTL: DefaultLockTTL, lockWait: DefaultLockWait}
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("rediscache: option %d is nil", i))
			continue
		}
		o.apply(cfg)
	}
	errs = append(errs, cfg.errs...)
	if !cfg.prefixSet {
		if strings.ContainsAny(name, "{}") {
			errs = append(errs, fmt.Errorf("rediscache: name %q contains a brace: give WithPrefix", name))
		}
		cfg.prefix = "paved:cache:" + name + ":"
	}
	l := &Level[K, V]{name: name, client: client, cfg: cfg, prefix: cfg.prefix, channel: cfg.prefix + "invalidate",
		token: rand.Text(), lockMs: max(1, cfg.lockTTL.Milliseconds())}
	switch kc := cfg.keyCodec.(type) {
	case nil:
		var ok bool
		if l.keys, ok = builtinKeys[K](); !ok {
			var k K
			errs = append(errs, fmt.Errorf("rediscache: key type %T needs WithKeyCodec", k))
		}
	case keyCodec[K]:
		l.keys = kc
	default:
		var k K
		errs = append(errs, fmt.Errorf("rediscache: WithKeyCodec: %T is not for key type %T", kc, k))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	bopts := append([]breaker.Option{
		breaker.WithConsecutiveFailures(5),
		breaker.WithOpenDuration(5 * time.Second),
		breaker.WithLogger(cfg.logger),
		breaker.WithMeterProvider(cfg.mp),
	}, cfg.breakerOpt...)
	var err error
	if l.br, err = breaker.New("rediscache:"+name, bopts...); err != nil {
		return nil, fmt.Errorf("rediscache: WithBreaker: %w", err)
	}
	if l.requests, err = otelx.CacheSecondLevel(cfg.mp, name); err != nil {
		return nil, fmt.Errorf("rediscache: %w", err)
	}
	return l, nil
}

// names returns the Redis names of a key's value and lock, which share
// a hash tag.
func (l *Level[K, V]) names(key K) (value, lock string) {
	lock = l.prefix + "{" + hashTag(l.keys.format(key)) + "}:lock" // one allocation for both
	return lock[:len(lock)-len(":lock")], lock
}

// do runs fn through the breaker with the Level's timeout.
func (l *Level[K, V]) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.timeout)
	defer cancel()
	return l.br.Do(ctx, fn)
}

// fallback counts a failed Redis call and says whether its error is worth
// passing on: a call the breaker rejected is not (its state change was
// logged once).
func (l *Level[K, V]) fallback(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, breaker.ErrOpen), errors.Is(err, breaker.ErrTooManyRequests):
		l.requests.Add(ctx, "breaker_open")
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		l.requests.Add(ctx, "timeout")
	default:
		l.requests.Add(ctx, "error")
	}
	return fmt.Errorf("rediscache: %w", err)
}

// Get returns key's value from Redis while it is fresh there, with the
// time it stays fresh. When Redis has no fresh value, Get locks the key
// for this instance and returns found false, so that the cache loads it
// and Set stores it; when another instance holds the lock, Get polls
// Redis until its value arrives, the lock is freed (and taken here), or
// the wait of WithLock passes (found false: the cache loads the key
// without the lock). A shared negative result (see SetNegative) comes
// back as found true with cache.ErrNotFound. When Redis fails or is
// slow, or the stored value does not decode, Get returns an error and
// the cache loads the key alone; while the breaker is open it returns
// found false without calling Redis. Get is called by the cache.
func (l *Level[K, V]) Get(ctx context.Context, key K) (value V, ttl time.Duration, found bool, err error) {
	vk, lk := l.names(key)
	var waitUntil time.Time
	pause := time.Millisecond
	for waited := false; ; waited = true {
		var res []any
		err = l.do(ctx, func(ctx context.Context) error {
			var err error
			res, err = getOrLock.Run(ctx, l.client, []string{vk, lk}, l.token, l.lockMs).Slice()
			return err
		})
		if err != nil {
			return value, 0, false, l.fallback(ctx, err)
		}
		state, _ := res[0].(int64)
		switch {
		case state == resHit && len(res) == 3:
			raw, _ := res[1].(string)
			ms, _ := res[2].(int64)
			value, err = l.decode(raw)
			if err != nil && err != cache.ErrNotFound {
				l.requests.Add(ctx, "error")
				return value, 0, false, err
			}
			l.requests.Add(ctx, result(waited, "hit", "waited"))
			return value, time.Duration(ms) * time.Millisecond, true, err
		case state == resLocked:
			l.requests.Add(ctx, "miss")
			return value, 0, false, nil
		case state != resHeld:
			l.requests.Add(ctx, "error")
			return value, 0, false, fmt.Errorf("rediscache: unexpected script result %v", res)
		}
		now := time.Now()
		if waitUntil.IsZero() {
			waitUntil = now.Add(l.cfg.lockWait)
		}
		if !now.Before(waitUntil) {
			l.requests.Add(ctx, "wait_expired")
			return value, 0, false, nil
		}
		if err := sleep(ctx, min(pause, waitUntil.Sub(now))); err != nil {
			return value, 0, false, fmt.Errorf("rediscache: waiting for another instance's load: %w", err)
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

func result(waited bool, first, later string) string {
	if waited {
		return later
	}
	return first
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Level[K, V]) decode(raw string) (V, error) {
	var v V
	i := strings.IndexAny(raw, ":!")
	switch {
	case i < 0:
		return v, errors.New("rediscache: stored value has no freshness header")
	case raw[i] == '!':
		return v, cache.ErrNotFound
	}
	if err := l.cfg.codec.Unmarshal([]byte(raw[i+1:]), &v); err != nil {
		return v, fmt.Errorf("rediscache: decode: %w", err)
	}
	return v, nil
}

// Set stores value for key, fresh for ttl and kept in Redis for keep
// (its last stale deadline), and frees the key's lock, if this instance
// still holds the lock its Get took; otherwise (a Delete since, the lock
// expired, Redis was down at Get) it stores nothing. Set is called by the
// cache after a load.
func (l *Level[K, V]) Set(ctx context.Context, key K, value V, ttl, keep time.Duration) error {
	payload, err := l.cfg.codec.Marshal(value)
	if err != nil {
		l.Release(ctx, key)
		return fmt.Errorf("rediscache: encode: %w", err)
	}
	return l.store(ctx, key, ttl, keep, ':', payload)
}

// SetNegative stores a negative result for key for ttl, as Set does a
// value, when err is cache.ErrNotFound (errors.Is): other instances then
// get cache.ErrNotFound for the key without loading it, if their caches
// have WithNegativeCache. Other errors are not stored, and the lock is
// freed. The cache calls it after a load whose negative result it stored.
func (l *Level[K, V]) SetNegative(ctx context.Context, key K, err error, ttl time.Duration) error {
	if !errors.Is(err, cache.ErrNotFound) {
		l.Release(ctx, key)
		return nil
	}
	return l.store(ctx, key, ttl, ttl, '!', nil)
}

func (l *Level[K, V]) store(ctx context.Context, key K, ttl, keep time.Duration, sep byte, payload []byte) error {
	freshMs := ttl.Milliseconds()
	if freshMs <= 0 {
		l.Release(ctx, key)
		return nil
	}
	keepMs := max(freshMs, (keep + time.Millisecond - 1).Milliseconds())
	buf := make([]byte, 0, len(payload)+21)
	buf = strconv.AppendInt(buf, keepMs-freshMs, 10)
	buf = append(buf, sep)
	buf = append(buf, payload...)
	vk, lk := l.names(key)
	err := l.do(ctx, func(ctx context.Context) error {
		return setLocked.Run(ctx, l.client, []string{vk, lk}, l.token, buf, keepMs).Err()
	})
	if err != nil && !errors.Is(err, breaker.ErrOpen) && !errors.Is(err, breaker.ErrTooManyRequests) {
		return fmt.Errorf("rediscache: %w", err)
	}
	return nil
}

// Release frees key's lock if this instance holds it. The cache calls it
// after a load that stores nothing (it failed, or its result was
// negative): the other instances waiting for the key stop waiting and
// one of them takes the lock. Failures are ignored: the lock expires.
func (l *Level[K, V]) Release(ctx context.Context, key K) {
	_, lk := l.names(key)
	_ = l.do(ctx, func(ctx context.Context) error {
		return unlock.Run(ctx, l.client, []string{lk}, l.token).Err()
	})
}

// Delete removes key from this instance's cache, from Redis (its value
// and its lock, so that a load running elsewhere since before the Delete
// does not store its value there), and tells the other instances to
// remove it from theirs (pub/sub, best effort: see the package
// documentation). It returns an error when Redis could not be told; the
// local copy is removed all the same.
func (l *Level[K, V]) Delete(ctx context.Context, key K) error {
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c != nil {
		c.Delete(key)
	}
	ks := l.keys.format(key)
	vk := l.prefix + "{" + hashTag(ks) + "}"
	err := l.do(ctx, func(ctx context.Context) error {
		_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, vk, vk+":lock")
			p.Publish(ctx, l.channel, l.token+ks)
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("rediscache: Delete: %w", err)
	}
	return nil
}

// Attach makes c the cache whose entries this Level removes when another
// instance deletes them, and subscribes to the Level's invalidation
// channel. cache.New calls it (see cache.WithSecondLevel). It waits up to
// a second for Redis to confirm the subscription; when Redis is down it
// goes on, and the subscriber connects when Redis is back. A Level serves
// one cache: attaching a second one, or attaching after Close, is an
// error.
func (l *Level[K, V]) Attach(c *cache.Cache[K, V]) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case c == nil:
		return errors.New("rediscache: Attach: nil cache")
	case l.closed:
		return errors.New("rediscache: Attach: Level is closed")
	case l.c != nil:
		return errors.New("rediscache: Attach: Level already serves a cache")
	}
	l.c = c
	ctx, stop := context.WithCancel(context.Background())
	l.ps = l.client.Subscribe(ctx, l.channel)
	// Wait for the confirmation, so that a Delete elsewhere after New
	// returns reaches this instance.
	if _, err := l.ps.ReceiveTimeout(ctx, max(10*l.cfg.timeout, time.Second)); err != nil {
		l.cfg.log().LogAttrs(ctx, slog.LevelWarn, "rediscache: invalidation subscriber not connected yet",
			slog.String("cache", l.name), slog.String("error", err.Error()))
	}
	l.stop, l.done = stop, make(chan struct{})
	go l.listen(ctx)
	return nil
}

// Close stops the invalidation subscriber and waits for it. It does not
// close the Redis client, which is the caller's. Close is idempotent and
// returns nil.
func (l *Level[K, V]) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	stop, ps, done := l.stop, l.ps, l.done
	l.mu.Unlock()
	if stop != nil {
		stop()
		_ = ps.Close() // ends the blocking read
		<-done
	}
	return nil
}
