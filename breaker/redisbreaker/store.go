package redisbreaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paved-go/paved/internal/redisx"
	"github.com/redis/go-redis/v9"
)

// ErrLockTimeout is returned by Lock when another holder kept a
// breaker's lock for longer than the lock wait (WithLockWait).
var ErrLockTimeout = errors.New("redisbreaker: lock wait exceeded")

// Store keeps breaker state in Redis for breaker.WithSharedState. It
// implements breaker.SharedStore, and gobreaker's SharedDataStore too (a
// gobreaker.DistributedCircuitBreaker can use it directly: its
// "gobreaker:mutex:" and "gobreaker:state:" names map to the same keys).
// It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	cfg    config

	mu     sync.Mutex
	tokens map[string]string // breaker name -> token of the lock held
}

// unlockScript deletes the lock only if it still holds our token: a lock
// that expired and was taken by another holder is not ours to delete.
var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// NewStore returns a Store using client, which may be a *redis.Client,
// *redis.ClusterClient or *redis.Ring built with ContextTimeoutEnabled
// (without it go-redis ignores the deadline of WithTimeout). It fails on
// a nil client, a client without ContextTimeoutEnabled, or an invalid
// option; it does not contact Redis.
func NewStore(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if err := redisx.CheckClient("redisbreaker: NewStore", client); err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Store{client: client, cfg: cfg, tokens: map[string]string{}}, nil
}

// gobreaker's own key names, mapped to the breaker's name.
const (
	gobreakerMutex = "gobreaker:mutex:"
	gobreakerState = "gobreaker:state:"
)

func breakerName(name string) string {
	if n, ok := strings.CutPrefix(name, gobreakerMutex); ok {
		return n
	}
	if n, ok := strings.CutPrefix(name, gobreakerState); ok {
		return n
	}
	return name
}

// StateKey returns the Redis key of the state of the breaker named name:
// prefix + "{" + name + "}:state". The braces are a Redis Cluster hash
// tag, so a breaker's state and lock keys are in one slot.
func (s *Store) StateKey(name string) string {
	return s.cfg.prefix + "{" + breakerName(name) + "}:state"
}

// LockKey returns the Redis key of the lock of the breaker named name:
// prefix + "{" + name + "}:lock".
func (s *Store) LockKey(name string) string {
	return s.cfg.prefix + "{" + breakerName(name) + "}:lock"
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.timeout)
}

// Lock takes the lock of the breaker named name: SET NX PX with a random
// token and the lock TTL (WithLockTTL), so a holder that dies frees it
// when it expires. While another holder has it, Lock retries with a
// short, growing pause, until the lock wait (WithLockWait) is over; then
// it returns ErrLockTimeout. Each Redis call is bounded by the timeout
// (WithTimeout), and a Redis error ends the wait at once.
func (s *Store) Lock(name string) error {
	name = breakerName(name)
	key := s.LockKey(name)
	_, err := s.lock(name, func(ctx context.Context, token string) (bool, []byte, error) {
		ok, err := s.client.SetNX(ctx, key, token, s.cfg.lockTTL).Result()
		return ok, nil, err
	})
	return err
}

// LockGetData is Lock followed by GetData in one round trip (a script on
// the two keys of the breaker, which share a hash slot). The breaker
// package uses it when a store has it.
func (s *Store) LockGetData(name string) ([]byte, error) {
	name = breakerName(name)
	keys := []string{s.LockKey(name), s.StateKey(name)}
	ttl := strconv.FormatInt(s.cfg.lockTTL.Milliseconds(), 10)
	return s.lock(name, func(ctx context.Context, token string) (bool, []byte, error) {
		v, err := lockGetScript.Run(ctx, s.client, keys, token, ttl).Slice()
		if err != nil {
			return false, nil, err
		}
		if len(v) == 0 || v[0] != int64(1) {
			return false, nil, nil
		}
		if len(v) > 1 {
			if data, ok := v[1].(string); ok {
				return true, []byte(data), nil
			}
		}
		return true, nil, nil // no state yet
	})
}

// lockGetScript takes the lock (KEYS[1], token ARGV[1], TTL ARGV[2] ms)
// and returns {1, state} (KEYS[2]), or {0} while another holder has it.
var lockGetScript = redis.NewScript(`if redis.call("set", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return {1, redis.call("get", KEYS[2])} end return {0}`)

// lock runs attempt with a fresh token until it takes the lock, a Redis
// error, or the end of the lock wait.
func (s *Store) lock(name string, attempt func(ctx context.Context, token string) (bool, []byte, error)) ([]byte, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	token := hex.EncodeToString(b[:])
	deadline := time.Now().Add(s.cfg.lockWait)
	pause := 200 * time.Microsecond
	for {
		ctx, cancel := s.ctx()
		ok, data, err := attempt(ctx, token)
		cancel()
		if err != nil {
			return nil, errors.New("redisbreaker: lock " + name + ": " + err.Error())
		}
		if ok {
			s.mu.Lock()
			s.tokens[name] = token
			s.mu.Unlock()
			return data, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, ErrLockTimeout
		}
		// Jitter spreads the retries of contending processes.
		var j [1]byte
		_, _ = rand.Read(j[:])
		time.Sleep(min(pause+pause*time.Duration(j[0])/256, left))
		pause = min(2*pause, 10*time.Millisecond)
	}
}

// token returns and forgets the token of the lock held for name.
func (s *Store) token(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token, ok := s.tokens[name]
	delete(s.tokens, name)
	return token, ok
}

// Unlock releases the lock of the breaker named name if this Store still
// holds it, with a compare-and-delete script on the token; a lock that
// expired meanwhile and was taken by another holder stays with it.
func (s *Store) Unlock(name string) error {
	name = breakerName(name)
	token, ok := s.token(name)
	if !ok {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := unlockScript.Run(ctx, s.client, []string{s.LockKey(name)}, token).Err(); err != nil {
		return errors.New("redisbreaker: unlock " + name + ": " + err.Error())
	}
	return nil
}

// ErrLockLost is returned by SetDataUnlock when the lock expired before
// the state was written (and another holder may have it): the state is
// left as that holder wrote it.
var ErrLockLost = errors.New("redisbreaker: lock expired before the state was written")

// setUnlockScript writes the state (KEYS[2] = ARGV[2], TTL ARGV[3] ms)
// and releases the lock (KEYS[1]) only while the lock holds our token
// (ARGV[1]); it returns 1, or 0 when the lock is no longer ours.
var setUnlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then redis.call("set", KEYS[2], ARGV[2], "PX", ARGV[3]) redis.call("del", KEYS[1]) return 1 end return 0`)

// SetDataUnlock is SetData followed by Unlock in one round trip, and
// writes only while this Store still holds the lock: a holder whose lock
// expired cannot overwrite what the next holder wrote (ErrLockLost).
// Without the lock it is SetData. The breaker package uses it when a
// store has it.
func (s *Store) SetDataUnlock(name string, data []byte) error {
	name = breakerName(name)
	token, ok := s.token(name)
	if !ok {
		return s.SetData(name, data)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := setUnlockScript.Run(ctx, s.client, []string{s.LockKey(name), s.StateKey(name)},
		token, data, s.cfg.stateTTL.Milliseconds()).Int()
	if err != nil {
		return errors.New("redisbreaker: set " + name + ": " + err.Error())
	}
	if n != 1 {
		return ErrLockLost
	}
	return nil
}

// GetData returns the state of the breaker named name, or nil and no
// error when Redis has none.
func (s *Store) GetData(name string) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	data, err := s.client.Get(ctx, s.StateKey(name)).Bytes()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, errors.New("redisbreaker: get " + breakerName(name) + ": " + err.Error())
	}
	return data, nil
}

// SetData replaces the state of the breaker named name, to expire after
// the state TTL (WithStateTTL) unless written again.
func (s *Store) SetData(name string, data []byte) error {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.client.Set(ctx, s.StateKey(name), data, s.cfg.stateTTL).Err(); err != nil {
		return errors.New("redisbreaker: set " + breakerName(name) + ": " + err.Error())
	}
	return nil
}
