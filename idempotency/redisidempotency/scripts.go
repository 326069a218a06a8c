package redisidempotency

import "github.com/redis/go-redis/v9"

// Each operation is one script (Get, one GET), so one round trip, and
// atomic: Redis runs a script alone, and keys do not expire while it runs
// (time is frozen for expiry from the script's start). go-redis runs a
// script by EVALSHA and sends EVAL instead when Redis answers NOSCRIPT,
// as it does after a restart or a failover. Each script touches one key,
// so it never crosses Redis Cluster slots.

// begin: KEYS key; ARGV the in-progress value, its expiry in ms. Claims a
// free key (1), or returns the value that holds it. One script, so a key
// that expires between a failed SET NX and the GET cannot go unseen.
var begin = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return redis.call('GET', KEYS[1])
`)

// complete: KEYS key; ARGV holder(token), the done value, its expiry in
// ms. Replaces the value only while token holds the key (1), else 0. A
// done value of the same token is replaced too, so that a Complete that
// go-redis retries after its reply was lost still succeeds.
var complete = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

// release: KEYS key; ARGV holderBegun(token). Deletes the value only
// while it is token's and in progress (1), else 0: a stored response is
// never deleted.
var release = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)
