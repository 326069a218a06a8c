// Package idempotencygrpc serves an idempotency.Guard as gRPC
// interceptors: a unary server interceptor that runs a call carrying an
// idempotency-key once and replays its outcome to retries, and a unary
// client interceptor that adds a key to outgoing calls.
//
//	g, err := idempotency.New("launches", idempotency.WithStore(store))
//	ic, err := idempotencygrpc.New(g, idempotencygrpc.WithRequired(true))
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()))
//
// The key travels in the metadata key "idempotency-key", in the
// Idempotency-Key header's form (an sf-string, "…"; a bare key is
// accepted, see idempotency.ParseKey); WithKeyFunc reads it from
// elsewhere. Keys are scoped by the authz
// principal (else the peer's address) and the full method. The
// fingerprint is a hash of the full method and the request message in
// deterministic protobuf encoding, so the same key with another request
// is refused before any stored outcome is served.
//
// What is stored: the response message (its bytes and its type name,
// rebuilt on replay through protoregistry.GlobalTypes, so the type must
// be linked into the server, as a served type always is) or, for a final
// error, its status with details. Response header and trailer metadata
// set by the handler are not stored. A replay carries the header
// metadata idempotent-replayed: true.
//
// Codes: final outcomes (DefaultStoreCode: OK and the codes saying the
// request is wrong) are stored; transient ones (UNAVAILABLE, ABORTED,
// INTERNAL, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ...) release the key.
// The interceptor refuses with INVALID_ARGUMENT (missing or malformed
// key), ABORTED (a call with the key is in progress), FAILED_PRECONDITION
// (the key was used for another request, or its response could not be
// stored) and UNAVAILABLE (the store failed; the guard fails closed
// unless idempotency.WithFailOpen).
//
// Streams are not guarded: a stream's outcome is not one message to
// store.
package idempotencygrpc
