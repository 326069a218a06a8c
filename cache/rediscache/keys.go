package rediscache

import (
	"fmt"
	"strconv"
	"strings"
)

// builtinKeys returns the key codec for string and integer key types, or
// false for other types.
func builtinKeys[K comparable]() (keyCodec[K], bool) {
	var k K
	switch any(k).(type) {
	case string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr:
		return keyCodec[K]{formatBuiltin[K], parseBuiltin[K]}, true
	}
	return keyCodec[K]{}, false
}

func formatBuiltin[K comparable](key K) string {
	switch k := any(key).(type) {
	case string:
		return k
	case int:
		return strconv.FormatInt(int64(k), 10)
	case int8:
		return strconv.FormatInt(int64(k), 10)
	case int16:
		return strconv.FormatInt(int64(k), 10)
	case int32:
		return strconv.FormatInt(int64(k), 10)
	case int64:
		return strconv.FormatInt(k, 10)
	case uint:
		return strconv.FormatUint(uint64(k), 10)
	case uint8:
		return strconv.FormatUint(uint64(k), 10)
	case uint16:
		return strconv.FormatUint(uint64(k), 10)
	case uint32:
		return strconv.FormatUint(uint64(k), 10)
	case uint64:
		return strconv.FormatUint(k, 10)
	case uintptr:
		return strconv.FormatUint(uint64(k), 10)
	}
	panic("rediscache: unreachable: key type checked by New")
}

func parseBuiltin[K comparable](s string) (K, error) {
	var key K
	var err error
	switch p := any(&key).(type) {
	case *string:
		*p = s
	case *int:
		*p, err = parseInt[int](s, strconv.IntSize)
	case *int8:
		*p, err = parseInt[int8](s, 8)
	case *int16:
		*p, err = parseInt[int16](s, 16)
	case *int32:
		*p, err = parseInt[int32](s, 32)
	case *int64:
		*p, err = parseInt[int64](s, 64)
	case *uint:
		*p, err = parseUint[uint](s, strconv.IntSize)
	case *uint8:
		*p, err = parseUint[uint8](s, 8)
	case *uint16:
		*p, err = parseUint[uint16](s, 16)
	case *uint32:
		*p, err = parseUint[uint32](s, 32)
	case *uint64:
		*p, err = parseUint[uint64](s, 64)
	case *uintptr:
		*p, err = parseUint[uintptr](s, strconv.IntSize)
	default:
		err = fmt.Errorf("rediscache: no key codec for %T", key)
	}
	return key, err
}

func parseInt[T ~int | ~int8 | ~int16 | ~int32 | ~int64](s string, bits int) (T, error) {
	n, err := strconv.ParseInt(s, 10, bits)
	return T(n), err
}

func parseUint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](s string, bits int) (T, error) {
	n, err := strconv.ParseUint(s, 10, bits)
	return T(n), err
}

// hashTag returns the part of a key's Redis names between braces: the
// key string with '%' and '}' escaped, so that the tag ends where it
// should, and the empty string written "%", so that the tag is never
// empty (Redis Cluster hashes a whole name whose braces enclose
// nothing). The value and lock of one key then share their tag, and
// their Cluster slot, whatever the key, and distinct keys get distinct
// tags.
func hashTag(ks string) string {
	if ks == "" {
		return "%"
	}
	if !strings.ContainsAny(ks, "%}") {
		return ks
	}
	return tagEscaper.Replace(ks)
}

var tagEscaper = strings.NewReplacer("%", "%25", "}", "%7D")
