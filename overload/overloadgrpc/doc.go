// Package overloadgrpc brings package overload to gRPC.
//
// Client side, NewClient turns an *overload.Throttle into unary and
// stream client interceptors: client-side adaptive throttling (Google SRE
// book, "Handling Overload"). Calls that end with RESOURCE_EXHAUSTED or
// UNAVAILABLE are the server's refusals; every other code counts as an
// accept. Once the server refuses more than 1/K of the calls, the
// interceptors reject calls locally with probability
// max(0, (requests − K·accepts)/(requests + 1)): a rejected call fails at
// once with UNAVAILABLE, its error unwrapping to overload.ErrThrottled,
// and is never sent.
//
//	th, err := overload.NewThrottle("inventory")
//	if err != nil { ... }
//	ic, err := overloadgrpc.NewClient(th)
//	if err != nil { ... }
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(ic.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(ic.StreamClientInterceptor()))
//
// A Throttle may be shared by an HTTP Transport and these interceptors
// when both reach the same backend.
//
// Server side, New turns an Admitter (an *overload.Bulkhead) into unary
// and stream server interceptors: a unary call holds a slot while its
// handler runs, a stream for its whole life, and a shed call fails with
// UNAVAILABLE, a google.rpc.RetryInfo detail and the
// grpc-retry-pushback-ms trailer, so gRPC's built-in retry and this
// package's client side both back off.
//
//	b, err := overload.NewBulkhead("inventory", 64, overload.WithQueue(64))
//	if err != nil { ... }
//	si, err := overloadgrpc.New(b)
//	if err != nil { ... }
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(si.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(si.StreamServerInterceptor()))
package overloadgrpc
