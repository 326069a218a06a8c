package idempotencytest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/paved-go/paved/idempotency"
)

// The expiry tests wait in real time: a store expires records by its own
// clock (Redis's, for a shared store), which no fake clock moves. They
// assert that a record is gone only once its TTL and margin have passed
// since the call that stored it returned, and never that a record is
// still there close to its expiry, so a slow machine delays them but
// cannot fail them.
const (
	shortTTL = 100 * time.Millisecond
	margin   = 200 * time.Millisecond
	longTTL  = time.Hour
	// hang is how long the suite waits for a call whose context is done
	// before it calls the store hung.
	hang = 10 * time.Second
)

// TestStore runs the conformance suite of idempotency.Store: one subtest
// per requirement of the contract. newStore is called once per subtest
// and returns the store it tests, ready for use; any cleanup belongs in
// t.Cleanup. The subtests run in parallel (t.Parallel) and use keys of
// their own, all starting with "paved-idempotencytest/", so newStore may
// return one shared store or a new one each time, as long as no one else
// writes those keys.
//
// The subtests that check expiry wait in real time, about a third of a
// second each, and need a store that expires a record within 200 ms of
// its TTL. The concurrency subtest starts 100 goroutines.
func TestStore(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s idempotency.Store, key string)
	}{
		{"BeginClaimsFreeKey", testBeginClaimsFreeKey},
		{"BeginReturnsInProgress", testBeginReturnsInProgress},
		{"CompleteStoresResponse", testCompleteStoresResponse},
		{"CompleteOtherTokenNotHeld", testCompleteOtherTokenNotHeld},
		{"ReleaseOtherTokenNotHeld", testReleaseOtherTokenNotHeld},
		{"ReleaseThenBeginClaims", testReleaseThenBeginClaims},
		{"ReleaseKeepsDoneRecord", testReleaseKeepsDoneRecord},
		{"InProgressExpiresAfterLockTTL", testInProgressExpires},
		{"DoneExpiresAfterTTL", testDoneExpires},
		{"CompleteReplacesLockTTL", testCompleteReplacesLockTTL},
		{"KeysIsolated", testKeysIsolated},
		{"ConcurrentBeginOneClaims", testConcurrentBegin},
		{"ContextDone", testContextDone},
		{"GetMissing", testGetMissing},
		{"RecordsAreCopies", testRecordsAreCopies},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned a nil Store")
			}
			tc.run(t, s, "paved-idempotencytest/"+tc.name+"/")
		})
	}
}

// fingerprint is binary, as a hash is: a store must keep every byte.
const fingerprint = "\x00\x01sha256:\xfe\xff\x80 request"

func inProgress(token string) *idempotency.Record {
	return &idempotency.Record{Token: token, Fingerprint: fingerprint}
}

func done(token string, resp idempotency.Response) *idempotency.Record {
	return &idempotency.Record{Token: token, Fingerprint: fingerprint, Done: true, Response: resp}
}

// response is a typical stored response.
func response() idempotency.Response {
	return idempotency.Response{
		Status: http.StatusCreated,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Location":     {"/instances/i-42"},
			"Set-Cookie":   {"a=1", "b=2"},
		},
		Body: []byte(`{"id":"i-42"}`),
	}
}

func begin(t *testing.T, s idempotency.Store, key string, rec *idempotency.Record, lockTTL time.Duration) *idempotency.Record {
	t.Helper()
	existing, err := s.Begin(t.Context(), key, rec, lockTTL)
	if err != nil {
		t.Fatalf("Begin(%q, token %q): %v", key, rec.Token, err)
	}
	return existing
}

func claim(t *testing.T, s idempotency.Store, key string, rec *idempotency.Record, lockTTL time.Duration) {
	t.Helper()
	if existing := begin(t, s, key, rec, lockTTL); existing != nil {
		t.Fatalf("Begin(%q, token %q) on a free key returned %s, want (nil, nil): it claims the key", key, rec.Token, show(existing))
	}
}

func complete(t *testing.T, s idempotency.Store, key string, rec *idempotency.Record, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(t.Context(), key, rec, ttl); err != nil {
		t.Fatalf("Complete(%q, token %q): %v", key, rec.Token, err)
	}
}

func get(t *testing.T, s idempotency.Store, key string) *idempotency.Record {
	t.Helper()
	rec, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return rec
}

// wantRecord fails t unless got is want (nil for none).
func wantRecord(t *testing.T, what string, got, want *idempotency.Record) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("%s: %s\n got %s\nwant %s", what, d, show(got), show(want))
	}
}

func wantNotHeld(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("%s returned %v, want idempotency.ErrNotHeld (errors.Is)", what, err)
	}
}

// sleepUntil sleeps until t.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

func testBeginClaimsFreeKey(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	wantRecord(t, "Get after Begin", get(t, s, key), inProgress("tok-1"))
}

func testBeginReturnsInProgress(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	second := &idempotency.Record{Token: "tok-2", Fingerprint: "another request"}
	wantRecord(t, "second Begin", begin(t, s, key, second, longTTL), inProgress("tok-1"))
	wantRecord(t, "Get after the second Begin (it stores nothing)", get(t, s, key), inProgress("tok-1"))
	// The key is still the first request's.
	wantNotHeld(t, "Release by the second token", s.Release(t.Context(), key, "tok-2"))
	complete(t, s, key, done("tok-1", response()), longTTL)
}

func testCompleteStoresResponse(t *testing.T, s idempotency.Store, key string) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		resp idempotency.Response
	}{
		{"typical", response()},
		{"no header, nil body", idempotency.Response{Status: http.StatusNoContent}},
		{"empty body", idempotency.Response{Status: http.StatusOK, Header: http.Header{}, Body: []byte{}}},
		{"binary body", idempotency.Response{Status: http.StatusOK, Body: binary}},
		{"large body", idempotency.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: large}},
		{"many header values", idempotency.Response{
			Status: http.StatusUnprocessableEntity,
			Header: http.Header{
				"Link":            {"</a>; rel=a", "</b>; rel=b", "</c>; rel=c"},
				"X-Empty-Value":   {""},
				"x-not-canonical": {"kept as given"},
				"X-Binary":        {"\x00\xff"},
			},
			Body: []byte("problem"),
		}},
		{"gRPC OK is status 0", idempotency.Response{Status: 0, Header: http.Header{"grpc-meta": {"v"}}, Body: []byte{0x0a, 0x02, 'o', 'k'}}},
		{"negative status, a marker such as not stored", idempotency.Response{Status: -1}},
	}
	for _, tc := range tests {
		key := key + tc.name
		claim(t, s, key, inProgress("tok-1"), longTTL)
		want := done("tok-1", tc.resp)
		complete(t, s, key, want, longTTL)
		wantRecord(t, tc.name+": Get after Complete", get(t, s, key), want)
		// A retry's Begin gets the stored response to replay.
		wantRecord(t, tc.name+": Begin after Complete", begin(t, s, key, inProgress("tok-2"), longTTL), want)
		wantRecord(t, tc.name+": Get after a Begin on a done record", get(t, s, key), want)
	}
}

func testCompleteOtherTokenNotHeld(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	wantNotHeld(t, "Complete by another token", s.Complete(t.Context(), key, done("tok-2", response()), longTTL))
	wantRecord(t, "Get after Complete by another token", get(t, s, key), inProgress("tok-1"))

	missing := key + "missing"
	wantNotHeld(t, "Complete of a key never begun", s.Complete(t.Context(), missing, done("tok-1", response()), longTTL))
	wantRecord(t, "Get after Complete of a key never begun", get(t, s, missing), nil)
}

func testReleaseOtherTokenNotHeld(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	wantNotHeld(t, "Release by another token", s.Release(t.Context(), key, "tok-2"))
	wantRecord(t, "Get after Release by another token", get(t, s, key), inProgress("tok-1"))
	wantNotHeld(t, "Release of a key never begun", s.Release(t.Context(), key+"missing", "tok-1"))
}

func testReleaseThenBeginClaims(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	if err := s.Release(t.Context(), key, "tok-1"); err != nil {
		t.Fatalf("Release by the holder: %v", err)
	}
	wantRecord(t, "Get after Release", get(t, s, key), nil)
	claim(t, s, key, inProgress("tok-2"), longTTL)
	wantNotHeld(t, "Complete by the released token", s.Complete(t.Context(), key, done("tok-1", response()), longTTL))
	wantNotHeld(t, "Release by the released token", s.Release(t.Context(), key, "tok-1"))
	wantRecord(t, "Get after the released token's calls", get(t, s, key), inProgress("tok-2"))
}

// A stored response is never deleted by Release: a retry would run the
// request again.
func testReleaseKeepsDoneRecord(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	want := done("tok-1", response())
	complete(t, s, key, want, longTTL)
	if err := s.Release(t.Context(), key, "tok-1"); err != nil && !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("Release of a done record: %v, want nil or ErrNotHeld", err)
	}
	wantNotHeld(t, "Release of a done record by another token", s.Release(t.Context(), key, "tok-2"))
	wantRecord(t, "Get after Release of a done record", get(t, s, key), want)
}

func testInProgressExpires(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), shortTTL)
	sleepUntil(time.Now().Add(shortTTL + margin))
	wantRecord(t, "Get after lockTTL", get(t, s, key), nil)
	// The holder whose record expired holds nothing, and brings nothing back.
	wantNotHeld(t, "Complete after lockTTL", s.Complete(t.Context(), key, done("tok-1", response()), longTTL))
	wantRecord(t, "Get after Complete of an expired record", get(t, s, key), nil)
	claim(t, s, key, inProgress("tok-2"), longTTL)
	wantNotHeld(t, "Release by the expired token", s.Release(t.Context(), key, "tok-1"))
	wantRecord(t, "Get after the expired token's Release", get(t, s, key), inProgress("tok-2"))
}

func testDoneExpires(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	complete(t, s, key, done("tok-1", response()), shortTTL)
	sleepUntil(time.Now().Add(shortTTL + margin))
	wantRecord(t, "Get after ttl", get(t, s, key), nil)
	claim(t, s, key, inProgress("tok-2"), longTTL)
}

// A done record lives for Complete's ttl, not for what was left of the
// lockTTL: a retry after the lockTTL must still be replayed.
func testCompleteReplacesLockTTL(t *testing.T, s idempotency.Store, key string) {
	lock := 2 * shortTTL
	for attempt := 0; ; attempt++ {
		key := fmt.Sprintf("%s%d", key, attempt)
		start := time.Now()
		claim(t, s, key, inProgress("tok-1"), lock)
		begun := time.Now()
		want := done("tok-1", response())
		err := s.Complete(t.Context(), key, want, longTTL)
		if errors.Is(err, idempotency.ErrNotHeld) && time.Since(start) >= lock && attempt < 4 {
			// The machine took longer than the lockTTL between the two
			// calls: try again with a longer one.
			lock *= 4
			continue
		}
		if err != nil {
			t.Fatalf("Complete within the lockTTL (%v): %v", lock, err)
		}
		sleepUntil(begun.Add(lock + margin))
		wantRecord(t, "Get after the lockTTL of a completed record", get(t, s, key), want)
		return
	}
}

func testKeysIsolated(t *testing.T, s idempotency.Store, key string) {
	keys := []string{key + "a", key + "A", key + "ab", key + "a:b", key + "a\x00", key + "\xff\xfe", key + "ключ"}
	for i, k := range keys {
		claim(t, s, k, inProgress(fmt.Sprint("tok-", i)), longTTL)
	}
	want := done("tok-0", response())
	complete(t, s, keys[0], want, longTTL)
	if err := s.Release(t.Context(), keys[1], "tok-1"); err != nil {
		t.Fatalf("Release(%q): %v", keys[1], err)
	}
	wantNotHeld(t, "Release of one key by the token of another", s.Release(t.Context(), keys[2], "tok-3"))
	wantNotHeld(t, "Complete of one key by the token of another", s.Complete(t.Context(), keys[3], done("tok-2", response()), longTTL))
	wantRecord(t, fmt.Sprintf("Get(%q)", keys[0]), get(t, s, keys[0]), want)
	wantRecord(t, fmt.Sprintf("Get(%q)", keys[1]), get(t, s, keys[1]), nil)
	for i, k := range keys[2:] {
		wantRecord(t, fmt.Sprintf("Get(%q)", k), get(t, s, k), inProgress(fmt.Sprint("tok-", i+2)))
	}
}

func testConcurrentBegin(t *testing.T, s idempotency.Store, key string) {
	const n = 100
	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		existing [n]*idempotency.Record
		errs     [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			existing[i], errs[i] = s.Begin(t.Context(), key, inProgress(fmt.Sprint("tok-", i)), longTTL)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Fatalf("Begin %d: %v", i, errs[i])
		case existing[i] == nil && winner >= 0:
			t.Fatalf("Begins %d and %d both claimed the key", winner, i)
		case existing[i] == nil:
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent Begins claimed the key", n)
	}
	want := inProgress(fmt.Sprint("tok-", winner))
	for i := range n {
		if i != winner {
			wantRecord(t, fmt.Sprintf("Begin %d, after %d claimed the key", i, winner), existing[i], want)
		}
	}
	wantRecord(t, "Get after the concurrent Begins", get(t, s, key), want)
}

func testContextDone(t *testing.T, s idempotency.Store, key string) {
	claim(t, s, key, inProgress("tok-1"), longTTL)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	ops := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Begin", func(ctx context.Context) error {
			_, err := s.Begin(ctx, key+"other", inProgress("tok-2"), longTTL)
			return err
		}},
		{"Complete", func(ctx context.Context) error { return s.Complete(ctx, key, done("tok-1", response()), longTTL) }},
		{"Release", func(ctx context.Context) error { return s.Release(ctx, key, "tok-1") }},
		{"Get", func(ctx context.Context) error {
			_, err := s.Get(ctx, key)
			return err
		}},
	}
	for _, ctx := range []context.Context{canceled, expired} {
		for _, op := range ops {
			errc := make(chan error, 1)
			go func() { errc <- op.call(ctx) }()
			select {
			case err := <-errc:
				if !errors.Is(err, ctx.Err()) {
					t.Errorf("%s with a context that is done (%v) returned %v, want an error that wraps the context's", op.name, ctx.Err(), err)
				}
			case <-time.After(hang):
				t.Fatalf("%s with a context that is done (%v) did not return within %v", op.name, ctx.Err(), hang)
			}
		}
	}
}

func testGetMissing(t *testing.T, s idempotency.Store, key string) {
	wantRecord(t, "Get of a key never begun", get(t, s, key+"never"), nil)
}

// The store keeps its own copies: what a caller does with a record it
// passed in or got back changes nothing stored.
func testRecordsAreCopies(t *testing.T, s idempotency.Store, key string) {
	mutate := func(rec *idempotency.Record) {
		rec.Token, rec.Fingerprint, rec.Done = "changed", "changed", !rec.Done
		rec.Response.Status = 599
		for k, v := range rec.Response.Header {
			for i := range v {
				v[i] = "changed"
			}
			rec.Response.Header[k] = append(v, "added")
		}
		if rec.Response.Header != nil {
			rec.Response.Header["X-Added"] = []string{"added"}
		}
		for i := range rec.Response.Body {
			rec.Response.Body[i] = '!'
		}
	}

	in := inProgress("tok-1")
	claim(t, s, key, in, longTTL)
	mutate(in)
	wantRecord(t, "Get after the record given to Begin changed", get(t, s, key), inProgress("tok-1"))

	existing := begin(t, s, key, inProgress("tok-2"), longTTL)
	mutate(existing)
	wantRecord(t, "Get after the record Begin returned changed", get(t, s, key), inProgress("tok-1"))

	in = done("tok-1", response())
	complete(t, s, key, in, longTTL)
	mutate(in)
	want := done("tok-1", response())
	wantRecord(t, "Get after the record given to Complete changed", get(t, s, key), want)

	mutate(get(t, s, key))
	wantRecord(t, "Get after the record Get returned changed", get(t, s, key), want)

	existing = begin(t, s, key, inProgress("tok-3"), longTTL)
	mutate(existing)
	wantRecord(t, "Get after the done record Begin returned changed", get(t, s, key), want)
}
