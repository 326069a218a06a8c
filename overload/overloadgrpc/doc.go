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
package overloadgrpc
