package retry

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff computes the wait before each retry. Make one with FullJitter,
// DecorrelatedJitter or Constant.
type Backoff struct {
	kind      backoffKind
	base, cap time.Duration
}

type backoffKind uint8

const (
	fullJitter backoffKind = iota
	decorrelatedJitter
	constant
)

// FullJitter waits a uniformly random time between 0 and
// min(cap, base*2^retry): the "full jitter" of the AWS Architecture Blog's
// analysis, which spreads retries of many clients best. The default is
// FullJitter(100*time.Millisecond, 10*time.Second).
func FullJitter(base, cap time.Duration) Backoff {
	return Backoff{kind: fullJitter, base: base, cap: cap}
}

// DecorrelatedJitter waits a random time between base and three times the
// previous wait, capped: each wait grows from the last one rather than
// from the attempt number.
func DecorrelatedJitter(base, cap time.Duration) Backoff {
	return Backoff{kind: decorrelatedJitter, base: base, cap: cap}
}

// Constant waits d before every retry.
func Constant(d time.Duration) Backoff {
	return Backoff{kind: constant, base: d, cap: d}
}

func (b Backoff) validate() error {
	switch {
	case b.base < 0 || b.cap < 0:
		return fmt.Errorf("retry: backoff durations must not be negative (base %v, cap %v)", b.base, b.cap)
	case b.kind != constant && b.base == 0:
		return fmt.Errorf("retry: backoff base must be positive")
	case b.cap < b.base:
		return fmt.Errorf("retry: backoff cap %v is below its base %v", b.cap, b.base)
	}
	return nil
}

// delay returns the wait before retry number n (1 for the first retry),
// given the previous wait.
func (b Backoff) delay(n int, prev time.Duration) time.Duration {
	switch b.kind {
	case constant:
		return b.base
	case decorrelatedJitter:
		if prev < b.base {
			prev = b.base
		}
		hi := min(3*prev, b.cap)
		if hi <= b.base {
			return b.base
		}
		return b.base + rand.N(hi-b.base+1)
	default:
		ceil := b.cap
		if n-1 < 62 {
			if d := b.base << (n - 1); d > 0 && d < ceil && d>>(n-1) == b.base {
				ceil = d
			}
		}
		return rand.N(min(ceil, math.MaxInt64-1) + 1) // a cap of MaxInt64 must not overflow
	}
}
