// Package faults injects failures on purpose, so a team can rehearse
// what happens when a dependency slows down, fails, drops connections or
// breaks off its answers: does the breaker open, does the retry budget
// hold, does the fallback serve, does the alert fire. An Injector holds a
// list of rules; its middleware, transport and gRPC interceptors
// (package faultsgrpc) apply them to the requests they see.
//
//	inj, err := faults.New("drills")
//	mux.Handle("GET /instances/{id}", inj.Middleware(getInstance)) // server side
//	client := &http.Client{Transport: inj.Transport(nil)}           // client side
//	admin.Handle("/admin/faults", az.Middleware(inj))                // the switch
//
// # Off by default
//
// A new Injector has no rules and injects nothing; nil is an Injector
// with no rules. There is no environment variable and no endpoint of its
// own: faults are switched on only by code calling Set, or by a POST to
// the control endpoint (ServeHTTP) where the user mounted it, which
// should be an admin listener behind authz. The status package mounts it
// at …/faults with status.WithFaults(inj). Every change of the rules is
// logged at Warn.
//
// # Rules
//
// A rule injects latency (a fixed delay, plus a uniform jitter), then
// optionally one failure:
//
//   - an error: an HTTP status, answered as problem+json by the
//     middleware and as a synthetic response by the transport, or a gRPC
//     code (either one stands for the other when alone);
//   - a reset: the middleware drops the client's connection with a TCP
//     reset, the transport fails with an error that unwraps to
//     syscall.ECONNRESET without sending, gRPC calls fail with UNAVAILABLE;
//   - an abort: the request goes through, then its answer is lost: the
//     middleware sends the headers and the first half of the handler's
//     first write and drops the connection; the transport's response body
//     fails (io.ErrUnexpectedEOF) after half of it; gRPC calls fail with
//     UNAVAILABLE after the handler ran.
//
// It applies to a percentage of the requests its Match selects: by HTTP
// method, route (r.Pattern: mount the middleware on the routes), path
// prefix, host, header ("Name: value", or "Name" for any value), the
// authenticated principal (authz.FromContext: mount the middleware inside
// authz) and gRPC method or service. Rules are tried in order, and the
// first that matches and wins its draw is the request's only fault.
// Draws come from math/rand/v2, or from WithRand's source for a
// repeatable sequence in tests.
//
// The control endpoint's JSON (GET returns it, POST replaces the rules
// with it, DELETE clears them; 400 problem+json says what is wrong with a
// body, unknown fields included; at most MaxControlBody bytes and
// MaxRules rules; a POST is application/json, and a change from another
// site's page in a browser is refused):
//
//	curl -H 'Content-Type: application/json' -d '{"rules":[{"name":"drill","percent":50,"status":503}]}' localhost:9090/admin/faults
//
//	{"rules":[
//	  {"name":"drill","percent":50,"status":503},
//	  {"name":"slow-reads","percent":100,"latency":"200ms","jitter":"50ms",
//	   "match":{"method":"GET","path_prefix":"/instances"}},
//	  {"name":"inventory-down","percent":25,"reset":true,"match":{"host":"inventory:8080"}},
//	  {"name":"lost-answers","percent":10,"abort":true,
//	   "match":{"route":"POST /instances","header":"X-Drill: on","principal":"ops"}},
//	  {"name":"grpc","percent":5,"grpc_code":"UNAVAILABLE","match":{"grpc_method":"/pkg.Svc/"}}
//	]}
//
// name (1 to 64 letters, digits, '.', '_', '-'; unique) and percent (in
// (0, 100]) are required; latency and jitter are Go durations, at most 5
// minutes together; status is 400-599; grpc_code a code's name; at most
// one of status/grpc_code, reset and abort.
//
// # Never mistaken for a real failure
//
// Every injected fault is tagged:
//
//   - the Paved-Fault response header names the rule on every HTTP
//     response a fault touched (the paved-fault trailer on gRPC);
//   - errors are *InjectedError (the message starts "faults: injected"),
//     which transport and gRPC errors unwrap to;
//   - the current span gets a faults.injected event (rule, kind) and the
//     paved.faults.rule attribute;
//   - the paved.faults.injected counter counts them by paved.faults.name,
//     rule and kind (latency, error, reset, abort);
//   - each one is logged at Info with fault=true, rule and kind;
//   - an Injector built with a name is on the status page (kind faults):
//     state active or off, injections per minute, and each rule with its
//     count.
//
// A request whose context ends during an injected delay ends at once: the
// middleware answers 499 or 504, the transport and gRPC return the
// context's error.
//
// # Performance
//
// With no rules, the middleware and the transport cost an atomic load.
// Measured on this 2-core machine (go test -run X -bench . -benchmem
// -count 5 ./faults/, medians): the bare handler 4.2 ns/op, behind the
// middleware with no rules 6.7 ns/op (+2.5 ns), with two rules that do
// not match 24 ns/op; a RoundTripper 3.1 ns/op, behind the transport with
// no rules 5.1 ns/op (+2 ns), with two rules that do not match 24 ns/op;
// 0 allocs/op in every case. An injected fault allocates, logs and
// records a metric, as a real failure does.
package faults
