// Package ratelimitgrpc applies package ratelimit's token buckets to gRPC:
// server interceptors that limit incoming calls per caller, and client
// interceptors that pace outgoing calls.
//
// The server interceptors take a default Policy (a name, a
// ratelimit.Decider such as a *ratelimit.Keyed, and a KeyFunc) and
// per-method or per-service overrides (WithMethod):
//
//	perKey, _ := ratelimit.NewKeyed(rate.Every(600*time.Millisecond), 100)
//	def := ratelimitgrpc.Policy{Name: "api", Limiter: perKey, Key: ratelimitgrpc.APIKey}
//	unary, err := ratelimitgrpc.UnaryServerInterceptor(def)
//	...
//	stream, err := ratelimitgrpc.StreamServerInterceptor(def)
//	...
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
//
// Give both interceptors the same limiters so unary calls and streams
// share buckets; a stream takes one token when it opens. A limited call
// fails with RESOURCE_EXHAUSTED carrying a google.rpc.RetryInfo detail and
// the grpc-retry-pushback-ms trailer, which gRPC's own retry honours; a
// call without a key fails with INVALID_ARGUMENT unless WithAnonymousKey
// names a shared bucket. If the limiter fails the call goes through. No
// RateLimit metadata is sent: gRPC clients read RetryInfo instead.
//
// Keys come from the peer address (PeerIP, the default; ClientIP behind
// trusted proxies, with the rules of ratelimit.Proxies), incoming metadata
// (Metadata, APIKey), the method (Method), the principal (Principal), or a
// Join of them. Decisions count in paved.ratelimit.decisions, limited ones
// add a ratelimit.limited span event, and WithDryRun counts and logs
// without limiting, as in package ratelimit.
//
// UnaryClientInterceptor and StreamClientInterceptor make every outgoing
// call wait for a token of a *ratelimit.Limiter, failing at once with
// RESOURCE_EXHAUSTED when the wait would overrun the call's deadline (or
// the limiter's WithMaxWait bound).
package ratelimitgrpc
