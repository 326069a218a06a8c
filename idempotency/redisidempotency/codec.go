package redisidempotency

import (
	"encoding/binary"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/paved-go/paved/idempotency"
)

// A record is stored as one Redis string, in binary, so that a body of
// any bytes costs its length and no escaping:
//
//	version      1 byte, 1
//	token        uvarint length, bytes
//	state        1 byte: 0 in progress, 1 done
//	fingerprint  uvarint length, bytes
//	and when done:
//	status       varint (zigzag; gRPC codes and HTTP statuses alike)
//	header       uvarint number of keys, then per key in sorted order:
//	             uvarint length, key, uvarint number of values, and per
//	             value: uvarint length, value
//	body         uvarint length, bytes
//
// and nothing after. The version and token come first so that the
// scripts can tell who holds a key by comparing a prefix of the value
// (see holder), without decoding it in Lua.
const (
	version    = 1
	stateBegun = 0
	stateDone  = 1
)

// maxVarint is the most bytes a varint takes.
const maxVarint = binary.MaxVarintLen64

// holder returns the prefix of every value token writes: the version and
// the token. Each length comes before its bytes, so a value starts with
// holder(token) only if it is token's.
func holder(token string) []byte {
	b := make([]byte, 0, 1+maxVarint+len(token)+1)
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(len(token)))
	return append(b, token...)
}

// holderBegun is holder(token) followed by the in-progress state: the
// prefix of token's in-progress record only.
func holderBegun(token string) []byte { return append(holder(token), stateBegun) }

// encode returns rec's stored form: in progress (its Done and Response
// ignored) unless done, in which case rec.Response is kept.
func encode(rec *idempotency.Record, done bool) []byte {
	n := 1 + 2*maxVarint + len(rec.Token) + 1 + len(rec.Fingerprint)
	var keys []string
	if done {
		h := rec.Response.Header
		keys = slices.Sorted(maps.Keys(h))
		n += 3*maxVarint + len(rec.Response.Body)
		for _, k := range keys {
			n += 2*maxVarint + len(k)
			for _, v := range h[k] {
				n += maxVarint + len(v)
			}
		}
	}
	b := make([]byte, 0, n)
	b = append(b, version)
	b = appendString(b, rec.Token)
	if !done {
		b = append(b, stateBegun)
		return appendString(b, rec.Fingerprint)
	}
	b = append(b, stateDone)
	b = appendString(b, rec.Fingerprint)
	b = binary.AppendVarint(b, int64(rec.Response.Status))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		vs := rec.Response.Header[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Response.Body)))
	return append(b, rec.Response.Body...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errCorrupt says why a stored value is not a record this package wrote.
type errCorrupt string

func (e errCorrupt) Error() string { return string(e) }

// decode parses a stored value. A value that is not one encode wrote, of
// this version (another program's under the same prefix, one cut short,
// one of a later release), is an error, never a panic: its lengths and
// counts are checked against the bytes left before anything is allocated.
func decode(s string) (*idempotency.Record, error) {
	d := decoder{s: s}
	if v := d.byte(); v != version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, errCorrupt("unknown version " + strconv.Itoa(int(v)) + " (written by another program or release?)")
	}
	rec := &idempotency.Record{Token: d.string()}
	state := d.byte()
	rec.Fingerprint = d.string()
	switch {
	case d.err != nil:
		return nil, d.err
	case state == stateBegun:
	case state == stateDone:
		rec.Done = true
		status := d.varint()
		if status < -1<<31 || status > 1<<31-1 {
			return nil, errCorrupt("status out of range")
		}
		rec.Response.Status = int(status)
		// A key takes at least two bytes (its length and its count of
		// values), a value one.
		if n := d.count(2); n > 0 {
			rec.Response.Header = make(http.Header, n)
			for range n {
				k := d.string()
				vs := make([]string, d.count(1))
				for i := range vs {
					vs[i] = d.string()
				}
				if d.err != nil {
					break
				}
				if _, dup := rec.Response.Header[k]; dup {
					return nil, errCorrupt("header key repeated")
				}
				rec.Response.Header[k] = vs
			}
		}
		if body := d.string(); len(body) > 0 {
			rec.Response.Body = []byte(body)
		}
	default:
		return nil, errCorrupt("unknown state " + strconv.Itoa(int(state)))
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.s) > 0 {
		return nil, errCorrupt(strconv.Itoa(len(d.s)) + " bytes after the record")
	}
	return rec, nil
}

// decoder reads a value from the front; after the first error every read
// returns zero and err stays that error.
type decoder struct {
	s   string
	err error
}

var errShort = errCorrupt("value cut short")

func (d *decoder) byte() byte {
	if d.err != nil || len(d.s) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	// binary.Uvarint wants bytes; a varint is at most maxVarint of them,
	// copied to the stack.
	var buf [maxVarint]byte
	x, n := binary.Uvarint(buf[:copy(buf[:], d.s)])
	if n <= 0 {
		d.fail(errCorrupt("bad length"))
		return 0
	}
	d.s = d.s[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	var buf [maxVarint]byte
	x, n := binary.Varint(buf[:copy(buf[:], d.s)])
	if n <= 0 {
		d.fail(errCorrupt("bad status"))
		return 0
	}
	d.s = d.s[n:]
	return x
}

// count reads a count of items each at least size bytes long, and fails
// when the bytes left cannot hold them.
func (d *decoder) count(size int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.s)/size) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}
