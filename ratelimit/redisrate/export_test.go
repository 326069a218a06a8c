package redisrate

import (
	"context"
	"strconv"
	"time"

	"github.com/paved-go/paved/ratelimit"
)

// AllowNAt is AllowN at time t, to the microsecond, instead of Redis's
// clock: the script reads the time from its arguments. Tests only. The
// keys it writes live a minute longer than their buckets need, since
// they expire by Redis's clock, not the test's.
func (l *Limiter) AllowNAt(ctx context.Context, key string, t time.Time, n int) ratelimit.Decision {
	return l.decide(ctx, key, n, strconv.FormatInt(t.UnixMicro(), 10))
}

// Script is the decision script, for benchmarks that call it directly.
var Script = gcra
