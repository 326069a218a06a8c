package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
	"unsafe"

	"github.com/paved-go/paved/internal/httpx"
)

// MaxCorrelationIDLen is the longest correlation id accepted from a client.
const MaxCorrelationIDLen = 128

// BaggageKey is the OTel baggage member that carries the correlation id
// across process boundaries on outgoing calls.
const BaggageKey = "correlation_id"

// CorrelationID returns the correlation id ctx carries, or "" if none.
func CorrelationID(ctx context.Context) string { return httpx.CorrelationID(ctx) }

// WithCorrelationID returns a copy of ctx carrying id as its correlation
// id, for work that does not start from an HTTP or gRPC request (a job, a
// queue consumer). The id is used as given; check outside input with
// ValidCorrelationID first.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return httpx.WithCorrelationID(ctx, id)
}

// ValidCorrelationID reports whether id is acceptable from outside: 1 to
// MaxCorrelationIDLen bytes of ASCII letters, digits and - _ . : / + =.
// That covers UUIDs, ULIDs and the ids of common gateways and load
// balancers, and keeps anything that could forge log lines or headers out.
func ValidCorrelationID(id string) bool {
	if len(id) == 0 || len(id) > MaxCorrelationIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChar[id[i]] {
			return false
		}
	}
	return true
}

var idChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.:/+=" {
		t[c] = true
	}
	return t
}()

// NewCorrelationID returns a new unique id: a UUIDv7 (RFC 9562), so ids
// sort by creation time and index well. Its 74 random bits come from the
// runtime's ChaCha8 generator, seeded from the operating system, which
// needs no lock and no system call: the id costs one allocation.
func NewCorrelationID() string {
	var s [36]byte
	formatUUIDv7(&s)
	return string(s[:])
}

// newCorrelationValues returns a new id as a one-element header value,
// the slice and the id's bytes in one allocation: Middleware sets it on
// the response as is. The bytes are never written again, so the string
// over them stays immutable.
func newCorrelationValues() []string {
	p := new(struct {
		v [1]string
		b [36]byte
	})
	formatUUIDv7(&p.b)
	p.v[0] = unsafe.String(&p.b[0], len(p.b))
	return p.v[:]
}

func formatUUIDv7(s *[36]byte) {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	r1, r2 := rand.Uint64(), rand.Uint64()
	binary.BigEndian.PutUint64(u[0:8], ms<<16|r1&0x0fff|0x7000)                   // unix_ts_ms, ver 7, rand_a
	binary.BigEndian.PutUint64(u[8:16], r2&0x3fffffffffffffff|0x8000000000000000) // variant 10, rand_b

	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
}
