package redisrate

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

// gcra decides for one bucket in one round trip, by the generic cell rate
// algorithm. A bucket's state is its theoretical arrival time (TAT): the
// time at which it would be full again. A bucket with burst b and emission
// interval T (microseconds per token) holds, at time now, b -
// max(TAT-now, 0)/T tokens, which is the token count of x/time/rate's
// bucket fed the same calls; taking n tokens moves TAT forward by n*T. A
// missing key is a full bucket, and the key expires when its bucket is
// full again (PX is TAT-now, rounded up to the millisecond, and at most
// 1e15 ms, about 31,000 years, which Redis still takes as an integer), so
// idle keys vanish.
//
// The key holds TAT as two decimals: the time of the write (a whole number
// of microseconds of the server's clock, exact in a double) and TAT minus
// that time (a double, at most b*T). Lua's numbers are doubles, and a TAT
// held as one number of microseconds since 1970 resolves only a quarter
// of a microsecond: adding an interval that is not a whole number of
// microseconds (a third of a second) would round at every decision, and
// the bucket's count would drift from x/time/rate's by a microsecond's
// worth within a few dozen decisions. Both are written with 17
// significant digits, which round-trips a double (Lua's own conversion
// keeps 14).
//
// KEYS[1] is the bucket; ARGV are T (a decimal that parses to the Go
// float64 exactly), the burst, n, and, in tests only, the time to decide
// at in microseconds instead of the server's clock, and milliseconds to
// add to PX (the test's clock is not the one keys expire by). It returns
// {allowed (0 or 1), now (microseconds), the bucket's value after the
// decision ("" for a full bucket with no key)}: the very numbers the
// script would start from at a later time, so that bucket.decision can
// compute when it would allow n tokens, bit for bit. A limited decision
// formats nothing, and the value is parsed by hand: string.format and
// patterns are a good part of a short script's cost.
//
// Redis 5 and later replicate a script's effects, not the script (Redis 7
// knows no other way), so reading TIME and then writing is allowed.
var gcra = redis.NewScript(`
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local v = redis.call('GET', KEYS[1])
local wait = 0
if v then
  local sp = string.find(v, ' ', 1, true)
  local at = sp and tonumber(string.sub(v, 1, sp - 1))
  local ahead = sp and tonumber(string.sub(v, sp + 1))
  if at and ahead then
    wait = (at - now) + ahead
    if wait < 0 then
      wait = 0
    end
  else
    v = false
  end
end
if n >= 1 and n <= burst and burst - wait / interval >= n then
  local ahead = wait + n * interval
  v = string.format('%.17g %.17g', now, ahead)
  local px = math.min(math.ceil(ahead / 1000), 1e15) + (tonumber(ARGV[5]) or 0)
  redis.call('SET', KEYS[1], v, 'PX', px)
  return {1, now, v}
end
return {(n < 1) and 1 or 0, now, v or ''}
`)

var errReply = errors.New("redisrate: unexpected reply from the rate limit script")

// reply is gcra's answer: whether the tokens were taken, and the bucket's
// state after the decision, as the script reads it.
type reply struct {
	allowed bool
	now     float64 // microseconds of the server's clock
	at      float64 // the time of the last write, microseconds; now for no key
	ahead   float64 // TAT minus at, microseconds
}

func parseReply(v any) (reply, error) {
	r, ok := v.([]any)
	if !ok || len(r) != 3 {
		return reply{}, errReply
	}
	a, ok1 := r[0].(int64)
	now, ok2 := r[1].(int64)
	s, ok3 := r[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return reply{}, errReply
	}
	rep := reply{allowed: a == 1, now: float64(now), at: float64(now)}
	if s == "" {
		return rep, nil
	}
	at, ahead, found := strings.Cut(s, " ")
	var err1, err2 error
	rep.at, err1 = strconv.ParseFloat(at, 64)
	rep.ahead, err2 = strconv.ParseFloat(ahead, 64)
	if !found || err1 != nil || err2 != nil {
		return reply{}, errReply
	}
	return rep, nil
}

// bucket is the arithmetic of a quota in gcra's units.
type bucket struct {
	quota    ratelimit.Quota
	burst    float64
	interval float64 // microseconds per token: 1e6 / limit
}

func newBucket(q ratelimit.Quota) bucket {
	return bucket{quota: q, burst: float64(q.Burst), interval: 1e6 / float64(q.Limit)}
}

// wait is TAT minus now, us microseconds after the reply, as gcra
// computes it: never below zero.
func (r reply) wait(us int64) float64 {
	return max((r.at-(r.now+float64(us)))+r.ahead, 0)
}

// tokens is what a bucket whose TAT is wait microseconds ahead holds, as
// gcra computes it.
func (b bucket) tokens(wait float64) float64 {
	return b.burst - wait/b.interval
}

// decision turns gcra's reply for n tokens into a Decision, as
// ratelimit.Keyed reports it: Remaining is the whole tokens left,
// ResetAfter the time until the bucket is full (TAT-now, to the
// nanosecond), and RetryAfter, when limited, the shortest whole number of
// microseconds after which gcra would allow n tokens, by its own float
// arithmetic: asking again after exactly RetryAfter succeeds (unless
// others took the tokens), a microsecond earlier does not. Redis's clock
// counts microseconds, so RetryAfter is never shorter than one.
func (b bucket) decision(r reply, n int) ratelimit.Decision {
	wait := r.wait(0)
	d := ratelimit.Decision{
		Allowed:    r.allowed,
		Remaining:  whole(b.tokens(wait)),
		ResetAfter: micros(wait),
	}
	if r.allowed {
		return d
	}
	if n > b.quota.Burst {
		d.RetryAfter = rate.InfDuration
		return d
	}
	need := float64(n)
	enough := func(us int64) bool { return b.tokens(r.wait(us)) >= need }
	f := math.Ceil(wait - (b.burst-need)*b.interval)
	if f >= float64(math.MaxInt64/int64(time.Microsecond)) {
		d.RetryAfter = rate.InfDuration
		return d
	}
	us := max(int64(f), 1)
	for i := 0; i < 3 && !enough(us); i++ {
		us++
	}
	for i := 0; i < 3 && us > 1 && enough(us-1); i++ {
		us--
	}
	d.RetryAfter = time.Duration(us) * time.Microsecond
	return d
}

// micros converts microseconds to a Duration, to the nearest nanosecond.
func micros(us float64) time.Duration {
	if us <= 0 {
		return 0
	}
	ns := math.Round(us * 1e3)
	if ns >= math.MaxInt64 {
		return rate.InfDuration
	}
	return time.Duration(ns)
}

func whole(tokens float64) int {
	if tokens <= 0 {
		return 0
	}
	return int(tokens)
}
