// Package idempotencytest is the conformance suite of idempotency.Store:
// every Store passes it, the in-memory store of package idempotency and
// the Redis store of package redisidempotency alike, and so should a
// Store of your own. It works as golang.org/x/net/nettest.TestConn does
// for net.Conn: a test of the store's package hands it a constructor.
//
//	func TestStore(t *testing.T) {
//		idempotencytest.TestStore(t, func(t *testing.T) idempotency.Store {
//			return mystore.New(...) // cleanup by t.Cleanup
//		})
//	}
//
// # What it requires
//
// One subtest per requirement of the contract:
//
//   - BeginClaimsFreeKey: Begin on a free key stores the in-progress
//     record and returns (nil, nil).
//   - BeginReturnsInProgress: a second Begin returns the existing record
//     (token and fingerprint) and stores nothing.
//   - CompleteStoresResponse: Complete replaces the record, and Get and a
//     later Begin return it done with the exact response: status
//     (0 included, gRPC's OK, and negative markers), headers with several values, keys as given,
//     body bytes empty, binary or of 1 MiB.
//   - CompleteOtherTokenNotHeld, ReleaseOtherTokenNotHeld: Complete and
//     Release with another token, or of a key never begun, return
//     idempotency.ErrNotHeld (errors.Is) and change nothing.
//   - ReleaseThenBeginClaims: after Release the key is free, and the
//     released token holds nothing.
//   - ReleaseKeepsDoneRecord: Release never deletes a stored response.
//   - InProgressExpiresAfterLockTTL, DoneExpiresAfterTTL: an in-progress
//     record is gone after its lockTTL and a done one after its ttl; the
//     holder of an expired record gets ErrNotHeld and brings nothing back.
//   - CompleteReplacesLockTTL: a done record lives for Complete's ttl,
//     not for what was left of the lockTTL.
//   - KeysIsolated: keys that share a prefix, differ in case or hold any
//     bytes are separate records.
//   - ConcurrentBeginOneClaims: of 100 concurrent Begins on one key,
//     exactly one claims it and the 99 others get its record.
//   - ContextDone: each method, given a canceled or expired context,
//     returns an error that wraps the context's error, and does not hang.
//   - GetMissing: Get of a key never begun returns (nil, nil).
//   - RecordsAreCopies: changing a record passed to Begin or Complete, or
//     returned by Begin or Get, changes nothing stored.
//
// A nil and an empty Header (or Body) count as the same: a store need not
// tell them apart.
//
// # Time
//
// Stores expire records by their own clock (Redis's, for a shared store),
// which testing/synctest cannot move, so the expiry subtests wait in real
// time: TTLs of 100 ms, checked 200 ms after they end. They assert that a
// record is gone only after its TTL and that margin, and never that a
// record is still there close to its expiry, so a slow machine makes them
// slower but cannot make them fail; where a store must still hold a
// record (CompleteReplacesLockTTL), the subtest retries with a longer
// lockTTL when the machine took longer than it between two calls. The
// subtests run in parallel and take about half a second in all.
package idempotencytest
