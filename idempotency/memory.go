package idempotency

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxBytes is the default bound of a NewMemoryStore, in bytes.
const DefaultMaxBytes = 64 << 20

// recordOverhead is what a record costs besides its strings and body: the
// map entry, the list element and the structs, roughly.
const recordOverhead = 256

type memoryConfig struct {
	maxBytes int64
	now      func() time.Time
}

func storeOption(name string, fn func(*config) error) Option {
	return option{name: name, targets: forMemoryStore, fn: fn}
}

// WithMaxBytes bounds a NewMemoryStore by the bytes its records take
// (keys, tokens, fingerprints, stored headers and bodies, and a fixed
// overhead per record). The default is DefaultMaxBytes, 64 MiB.
func WithMaxBytes(n int64) Option {
	return storeOption("WithMaxBytes", func(c *config) error {
		if n <= 0 {
			return optErr("WithMaxBytes", "size must be positive, got "+strconv.FormatInt(n, 10))
		}
		c.mem.maxBytes = n
		return nil
	})
}

// WithClock sets the clock a NewMemoryStore expires records by. The
// default is time.Now (which testing/synctest fakes as well).
func WithClock(now func() time.Time) Option {
	return storeOption("WithClock", func(c *config) error {
		if now == nil {
			return optErr("WithClock", "nil function")
		}
		c.mem.now = now
		return nil
	})
}

// MemoryStore is a Store in the process's memory, for a single instance
// (several instances share a redisidempotency store). It is bounded by
// bytes: when a new record would exceed the bound, the completed records
// stored longest ago are evicted first; a retry whose record was evicted
// runs again, as if its TTL had passed, so size the bound to hold the
// responses of the retry window. In-progress records count towards the
// bound but are never evicted (they expire by their lock timeout), so a
// key is never claimed twice at once. Records expire lazily on access and
// by a sweep of the oldest ones at each write. It is safe for concurrent
// use and atomic per key.
type MemoryStore struct {
	maxBytes int64
	now      func() time.Time

	mu        sync.Mutex
	entries   map[string]*memEntry
	done      memList // completed records, oldest first
	pending   memList // in-progress records, oldest first
	bytes     int64
	evictions uint64
}

type memEntry struct {
	key        string
	rec        *Record // never modified once stored
	expires    time.Time
	size       int64
	prev, next *memEntry // in done or pending, as rec.Done says
	claim      Record    // the in-progress record rec points to until Complete
	final      Record    // the completed record rec points to after it
}

// memList is a doubly linked list of entries, linked through the entries
// themselves so that adding one allocates nothing.
type memList struct{ front, back *memEntry }

func (l *memList) pushBack(e *memEntry) {
	e.prev, e.next = l.back, nil
	if l.back != nil {
		l.back.next = e
	} else {
		l.front = e
	}
	l.back = e
}

func (l *memList) remove(e *memEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.front = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.back = e.prev
	}
	e.prev, e.next = nil, nil
}

// NewMemoryStore returns an empty MemoryStore. It accepts WithMaxBytes
// and WithClock; any other option is an error.
func NewMemoryStore(opts ...Option) (*MemoryStore, error) {
	c := newConfig()
	c.mem = memoryConfig{maxBytes: DefaultMaxBytes, now: time.Now}
	if err := applyOptions(&c, forMemoryStore, opts); err != nil {
		return nil, err
	}
	return &MemoryStore{maxBytes: c.mem.maxBytes, now: c.mem.now, entries: make(map[string]*memEntry)}, nil
}

func recordSize(key string, rec *Record) int64 {
	n := recordOverhead + len(key) + len(rec.Token) + len(rec.Fingerprint) + len(rec.Response.Body)
	for k, vs := range rec.Response.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return int64(n)
}

// cloneRecord copies rec, its header and body included, so that neither
// the caller nor the store sees the other's later changes, as with a
// store that encodes records.
func cloneRecord(rec *Record) *Record {
	r := *rec
	r.Response.Header = rec.Response.Header.Clone()
	if rec.Response.Body != nil {
		r.Response.Body = bytes.Clone(rec.Response.Body)
	}
	return &r
}

// Begin implements Store. A context that is done is an error.
func (s *MemoryStore) Begin(ctx context.Context, key string, rec *Record, lockTTL time.Duration) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.live(key, now); e != nil {
		return cloneRecord(e.rec), nil
	}
	s.sweep(now)
	e := &memEntry{key: key, expires: now.Add(lockTTL), claim: *rec}
	e.claim.Done = false
	e.claim.Response.Header = rec.Response.Header.Clone()
	if rec.Response.Body != nil {
		e.claim.Response.Body = bytes.Clone(rec.Response.Body)
	}
	s.add(e, now)
	return nil, nil
}

// add stores the new entry e, in progress, and sweeps and evicts.
func (s *MemoryStore) add(e *memEntry, now time.Time) {
	e.rec = &e.claim
	e.size = recordSize(e.key, e.rec)
	s.pending.pushBack(e)
	s.entries[e.key] = e
	s.bytes += e.size
	s.evict()
}

// Complete implements Store.
func (s *MemoryStore) Complete(ctx context.Context, key string, rec *Record, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key, now)
	if e == nil || e.rec.Done || e.rec.Token != rec.Token {
		return ErrNotHeld
	}
	r := *rec
	r.Response.Header = rec.Response.Header.Clone()
	if rec.Response.Body != nil {
		r.Response.Body = bytes.Clone(rec.Response.Body)
	}
	s.finish(e, &r, now.Add(ttl), now)
	return nil
}

// finish replaces e's in-progress record with the completed rec. (The
// in-progress record stays as it was, for whoever got it before.)
func (s *MemoryStore) finish(e *memEntry, rec *Record, expires, now time.Time) {
	s.pending.remove(e)
	s.bytes -= e.size
	e.final = *rec
	e.final.Done = true
	e.rec, e.expires, e.size = &e.final, expires, recordSize(e.key, &e.final)
	s.done.pushBack(e)
	s.bytes += e.size
	s.sweep(now)
	s.evict()
}

// Release implements Store.
func (s *MemoryStore) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key, now)
	if e == nil || e.rec.Done || e.rec.Token != token {
		return ErrNotHeld
	}
	s.remove(e)
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, key string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.live(key, now); e != nil {
		return cloneRecord(e.rec), nil
	}
	return nil, nil
}

// claim is Begin for a Guard that uses the store directly, with the
// stored key and the fingerprint as bytes. When the key is free it
// stores an in-progress record with a new token and returns the key, the
// token and the fingerprint as strings (one allocation for the three).
// Otherwise it returns the stored record itself, not a copy: the caller
// must not modify it.
func (s *MemoryStore) claim(key, fp []byte, lockTTL time.Duration) (existing *Record, k, token, fingerprint string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.lookup(key, now); e != nil {
		return e.rec, "", "", ""
	}
	s.sweep(now)
	k, token, fingerprint = claimStrings(key, fp)
	s.add(&memEntry{key: k, expires: now.Add(lockTTL), claim: Record{Token: token, Fingerprint: fingerprint}}, now)
	return nil, k, token, fingerprint
}

// peek is Get for a Guard that uses the store directly: it returns the
// stored record itself, not a copy.
func (s *MemoryStore) peek(key []byte) *Record {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.lookup(key, now); e != nil {
		return e.rec
	}
	return nil
}

// complete is Complete for a Guard that uses the store directly: it
// stores resp as the key's final response, with a copy of its body, and
// of its header unless ownHeader (the header was made for the store and
// nothing else holds it).
func (s *MemoryStore) complete(key, token, fingerprint string, resp *Response, ttl time.Duration, ownHeader bool) error {
	rec := Record{Token: token, Fingerprint: fingerprint, Done: true, Response: *resp}
	if !ownHeader {
		rec.Response.Header = resp.Header.Clone()
	}
	if resp.Body != nil {
		rec.Response.Body = bytes.Clone(resp.Body)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key, now)
	if e == nil || e.rec.Done || e.rec.Token != token {
		return ErrNotHeld
	}
	s.finish(e, &rec, now.Add(ttl), now)
	return nil
}

// Len reports the number of records held, expired ones not yet swept
// included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes reports the bytes the records take, as counted for WithMaxBytes.
func (s *MemoryStore) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// MaxBytes reports the bound set by WithMaxBytes.
func (s *MemoryStore) MaxBytes() int64 { return s.maxBytes }

// Evictions reports how many completed records were evicted to keep
// within the bound before their TTL.
func (s *MemoryStore) Evictions() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evictions
}

// live returns key's entry unless it expired (then it is removed).
func (s *MemoryStore) live(key string, now time.Time) *memEntry {
	e := s.entries[key]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		s.remove(e)
		return nil
	}
	return e
}

// lookup is live for a key given as bytes.
func (s *MemoryStore) lookup(key []byte, now time.Time) *memEntry {
	e := s.entries[string(key)]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		s.remove(e)
		return nil
	}
	return e
}

func (s *MemoryStore) remove(e *memEntry) {
	if e.rec.Done {
		s.done.remove(e)
	} else {
		s.pending.remove(e)
	}
	delete(s.entries, e.key)
	s.bytes -= e.size
}

// sweep removes expired records from the front of both lists (oldest
// first; records of one guard share their TTLs, so the front expires
// first).
func (s *MemoryStore) sweep(now time.Time) {
	for _, l := range [...]*memList{&s.pending, &s.done} {
		for e := l.front; e != nil && !now.Before(e.expires); e = l.front {
			s.remove(e)
		}
	}
}

// evict removes the oldest completed records until the store fits.
func (s *MemoryStore) evict() {
	for s.bytes > s.maxBytes && s.done.front != nil {
		s.remove(s.done.front)
		s.evictions++
	}
}
