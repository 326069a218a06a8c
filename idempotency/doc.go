// Package idempotency executes a request that carries an idempotency key
// once, and answers its retries with the stored response, so a client can
// retry a POST (a launch, a charge, an order) after a timeout or a lost
// answer without doing it twice. It implements the server side of the
// IETF Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header)
// the way payment APIs and AWS Lambda Powertools do it, as net/http
// middleware, a gRPC interceptor (package idempotencygrpc) and a
// transport-agnostic Guard.Do.
//
//	g, err := idempotency.New("launches", idempotency.WithRequired(true),
//		idempotency.WithDocsURL("https://docs.example.com/idempotency"))
//	...
//	mux.Handle("POST /instances", g.Middleware(launch))
//
// and on the client side, outside the retrying transport so every attempt
// carries the same key:
//
//	client := &http.Client{Transport: idempotency.Transport(retry.Transport(nil))}
//
// # What happens to a request
//
// A request without a key passes through, or with WithRequired gets 400
// (ErrKeyMissing) with the documentation's URL as the problem type, as
// the draft's section 2.7 asks. A request with a key has its body read
// (up to WithMaxBody, 1 MiB; more is 413) and fingerprinted (a SHA-256
// of the method, the route and the body; WithFingerprintFields hashes
// chosen fields of a JSON body instead, WithFingerprint anything). Then
// the Guard claims the key atomically in its Store, as in progress, and:
//
//   - when the key is new, the handler runs; its status, headers and
//     body are passed to the client as they are written and copied; a
//     final response is stored for WithTTL (24 h): 2xx and 4xx except
//     408, 409, 425 and 429 (WithStoreStatus). Anything else (5xx, 3xx),
//     a handler that panics (http.ErrAbortHandler included; the panic
//     goes on after the release) and a request whose client went away
//     before the handler finished release the key, so a retry runs again;
//   - when the key was used with another fingerprint: 422 Unprocessable
//     Content (ErrMismatch). This check comes first, on every path: on
//     the record the claim found, done or in progress, and on the record
//     found after a wait;
//   - when the first request is done: its response is replayed, with
//     Idempotent-Replayed: true (WithReplayHeader);
//   - when the first request is still running: 409 Conflict with Retry-After: 1
//     (ErrInProgress), or with WithWait(d) the retry waits up to d for it
//     and then replays (or runs, if the first released the key).
//
// Keys are scoped: the stored key is a hash of the Guard's name, the
// caller (the authz principal's ID, else the client's address; WithScope),
// the method, the route (r.Pattern, else the path) and the key, so two
// callers or two routes never share a record.
//
// # The key header
//
// The draft defines Idempotency-Key as an RFC 8941 sf-string: a quoted
// string with \" and \\ escapes, optionally followed by parameters
// (ignored). ParseKey parses exactly that, and also accepts a bare
// unquoted key of visible ASCII (many clients send UUIDs bare), which is
// the same key as its quoted form. Keys are at most MaxKeyLength (255)
// bytes; an empty, oversized, repeated or malformed key is 400
// (ErrKeyInvalid). NewKey, Transport and retry.WithIdempotencyKey send
// "<uuid>", quoted.
//
// # Stored responses
//
// Stored headers are all but the hop-by-hop ones, Date, Content-Length
// and Set-Cookie (WithStoredHeaders names an allow list instead); on
// replay a header the response already carries (a correlation id set by
// middleware outside) is kept. A response body over WithMaxResponse
// (1 MiB) is sent to its client in full but not stored: the key is kept
// as executed (StatusNotStored) and a retry gets 409 ErrNotReplayable,
// never a second execution nor a truncated body.
//
// The in-progress record lives for WithLockTimeout (1 min), not the TTL,
// so the key of a request whose process died is free again within a
// minute. A handler that runs longer than the lock timeout may see its
// key claimed by a retry; its response is then not stored (logged).
//
// # Stores
//
// NewMemoryStore (the default, per Guard) keeps records in memory, bounded
// by bytes (WithMaxBytes, 64 MiB): the completed records stored longest
// ago are evicted first, and a retry whose record was evicted runs again,
// as after its TTL; in-progress records are never evicted. Several
// instances share a Redis store (package redisidempotency). The Store
// interface is small (Begin, Complete, Release, Get) and atomic per key.
//
// # Errors
//
// A store error fails the request closed with 503 (ErrUnavailable),
// because executing twice is the harm this package prevents;
// WithFailOpen(true) runs it unprotected instead. If the store fails
// after the handler ran, the response still goes to the client, the
// failure is logged, and the key stays in progress until the lock
// timeout. Refusals go through WithErrorHandler (default: paved's
// problem+json writer) as errors that unwrap to ErrKeyMissing,
// ErrKeyInvalid, ErrInProgress, ErrMismatch, ErrNotReplayable,
// ErrUnavailable, ErrFingerprint or *http.MaxBytesError.
//
// # Observability
//
// The counter paved.idempotency.requests counts requests with a key by
// paved.idempotency.name and result: new, replayed, conflict, mismatch,
// released, and error (a store failure). Span events on the current span:
// idempotency.replayed, idempotency.conflict, idempotency.mismatch,
// idempotency.released, idempotency.store_error. A named Guard has a row
// on the status page (kind idempotency): state ok, or store_failing within
// a minute of a store error; refusals per minute; and counts of
// conflicts, mismatches, releases and store errors, with the records,
// bytes and evictions of its MemoryStore (a shared one in each row).
//
// # Performance
//
// Measured on this 2-core machine while shared (load average 2 to 3;
// medians of 8 runs, alternated with the previous version and compared
// with benchstat; a POST with a 40-byte JSON body; the allocations
// include the benchmark's own 4 of the raw line, and for a new key one
// more to format the key):
//
//	raw (the bare handler)      290 ns/op    4 allocs/op
//	new key (memory store)    4,500 ns/op   11 allocs/op
//	replay                    1,100 ns/op    3 allocs/op
//
//	go test -run XXX -bench Middleware -benchmem -count 8 ./idempotency/
//
// A new key costs two SHA-256 hashes (fingerprint and stored key), a
// token (a random prefix drawn once per process and a counter), the
// store's claim and completion, and a copy of the response headers and
// body; a replay costs the hashes, the claim that finds the record, and
// the write with a copy of the header values. The request body and the
// response capture are reused between requests (sync.Pool); a Guard
// reads its MemoryStore's records in place rather than through copies.
// Beside a handler that does real work (a launch, a charge) it is noise;
// with Redis a new key costs two round trips.
package idempotency
