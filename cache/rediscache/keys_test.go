package rediscache

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// slot is Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, or of
// the whole name when it has none, mod 16384.
func slot(name string) uint16 {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		if j := strings.IndexByte(name[i+1:], '}'); j > 0 {
			name = name[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(name); i++ {
		crc ^= uint16(name[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}

// unescapeTag inverts hashTag.
func unescapeTag(tag string) (string, error) {
	if tag == "%" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(tag); i++ {
		if tag[i] != '%' {
			b.WriteByte(tag[i])
			continue
		}
		switch {
		case strings.HasPrefix(tag[i:], "%25"):
			b.WriteByte('%')
		case strings.HasPrefix(tag[i:], "%7D"):
			b.WriteByte('}')
		default:
			return "", fmt.Errorf("bad tag %q", tag)
		}
		i += 2
	}
	return b.String(), nil
}

func TestSlot(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	if got := slot("123456789"); got != 0x31C3%16384 {
		t.Fatalf("slot(123456789) = %d", got)
	}
	if slot("{user1000}.following") != slot("{user1000}.followers") {
		t.Fatal("hash tags ignored")
	}
}

// FuzzNames: a key's value and lock share a Cluster slot whatever the key
// holds, and distinct keys get distinct names.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "}", "{", "a}b", "{x}", "%", "%7D", "%25", "plain", "}}"} {
		f.Add(s)
	}
	l := &Level[string, int]{prefix: "paved:cache:test:"}
	l.keys, _ = builtinKeys[string]()
	f.Fuzz(func(t *testing.T, key string) {
		value, lock := l.names(key)
		if slot(value) != slot(lock) {
			t.Fatalf("key %q: value %q and lock %q in different slots", key, value, lock)
		}
		tag := strings.TrimSuffix(strings.TrimPrefix(value, l.prefix+"{"), "}")
		if tag == "" || strings.Contains(tag, "}") {
			t.Fatalf("key %q: tag %q is empty or holds a brace", key, tag)
		}
		back, err := unescapeTag(tag)
		if err != nil || back != key {
			t.Fatalf("key %q: tag %q decodes to %q, %v", key, tag, back, err)
		}
	})
}

// FuzzParseKey: the invalidation messages' integer keys round-trip, and
// anything else is an error, never a panic.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"0", "-1", "9223372036854775807", "9223372036854775808", "", "x", "1e3", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseBuiltin[int64](s)
		if err != nil {
			if !errors.Is(err, strconv.ErrSyntax) && !errors.Is(err, strconv.ErrRange) {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		if again, err := parseBuiltin[int64](formatBuiltin(k)); err != nil || again != k {
			t.Fatalf("%q: %d does not round-trip: %d, %v", s, k, again, err)
		}
		u, err := parseBuiltin[uint8](s)
		if err == nil && formatBuiltin(u) != strconv.FormatUint(uint64(u), 10) {
			t.Fatalf("%q: uint8 %d formats wrong", s, u)
		}
	})
}
