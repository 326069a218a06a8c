package rediscache

import "github.com/redis/go-redis/v9"

// The scripts each touch one key's value and lock, which share a hash
// tag and so a Redis Cluster slot. go-redis runs them with EVALSHA and
// falls back to EVAL when the server does not know them (NOSCRIPT).

// A stored value is "<ms>:" and the codec's bytes, where ms is how long
// before the key expires (its last stale deadline) the value stops being
// fresh, or "<ms>!" for a negative result (cache.ErrNotFound). Freshness
// is then judged by Redis's clock alone: PTTL less ms.

// Script results.
const (
	resHit    = 1 // {1, value, fresh ms}
	resLocked = 2 // {2}: this instance holds the lock and loads
	resHeld   = 3 // {3}: another instance holds the lock
)

// getOrLock: KEYS value, lock; ARGV token, lock ttl ms. A fresh value, or
// else the lock if it is free (or already this instance's).
var getOrLock = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local gap = tonumber(string.match(v, '^(%d+)[:!]')) or 0
  local fresh = redis.call('PTTL', KEYS[1]) - gap
  if fresh > 0 then return {1, v, fresh} end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
if redis.call('GET', KEYS[2]) == ARGV[1] then return {2} end
return {3}
`)

// setLocked: KEYS value, lock; ARGV token, stored value, expiry ms. Writes
// the value and frees the lock only while this instance holds the lock:
// a Delete since the Get took it, or its expiry, means the value may be
// out of date, or another instance is loading a newer one.
var setLocked = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`)

// unlock: KEYS lock; ARGV token. Compare and delete.
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
