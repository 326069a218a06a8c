// Package ratelimitgrpc applies package ratelimit's token buckets to gRPC:
// server interceptors that limit incoming calls per caller, and client
// interceptors that pace outgoing calls.
//
// New takes a default Policy (a name, a ratelimit.Decider such as a
// *ratelimit.Keyed, and a KeyFunc) and per-method or per-service
// overrides (WithMethod), and returns the Interceptors; its unary and
// stream server interceptors share the same buckets:
//
//	perKey, _ := ratelimit.NewKeyed(rate.Every(600*time.Millisecond), 100)
//	limits, err := ratelimitgrpc.New(ratelimitgrpc.Policy{Name: "api", Limiter: perKey, Key: ratelimitgrpc.APIKey})
//	...
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(limits.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(limits.StreamServerInterceptor()))
//
// A stream takes one token when it opens. A limited call fails with
// RESOURCE_EXHAUSTED carrying a google.rpc.RetryInfo detail and the
// grpc-retry-pushback-ms trailer, which gRPC's own retry honours; a call
// without a key fails with INVALID_ARGUMENT unless WithAnonymousKey names
// a shared bucket. If the limiter fails the call goes through. No
// RateLimit metadata is sent: gRPC clients read RetryInfo instead. Each
// policy is applied by a ratelimit.Enforcer, so decisions count in
// paved.ratelimit.decisions (and paved.ratelimit.overflow), limited ones
// add a ratelimit.limited span event, and WithDryRun counts and logs
// without limiting, exactly as package ratelimit's middleware does.
//
// Keys come from the peer address (PeerIP, the default, which keys a peer
// without an IP address, such as a Unix socket or a bufconn, as
// ratelimit.LocalKey; ClientIP behind trusted proxies, with the rules of
// ratelimit.Proxies), incoming metadata (Metadata, APIKey), the method
// (Method, from grpc.Method), the principal (Principal), or a
// ratelimit.Join of them. A Policy with a *ratelimit.Limiter, one bucket
// for every caller, needs no key.
//
// NewClient takes a *ratelimit.Limiter (nil is an error) and returns
// ClientInterceptors, whose UnaryClientInterceptor and
// StreamClientInterceptor make every outgoing call wait for a token,
// failing at once with RESOURCE_EXHAUSTED when the wait would overrun the
// call's deadline (or the limiter's WithMaxWait bound), as
// (*ratelimit.Limiter).Transport does for HTTP.
package ratelimitgrpc
