// Package auditgrpc writes audit events for the calls a gRPC server
// serves, through an audit.Emitter: one event per unary call and one per
// stream, when the handler returns, with the principal, decision and
// resources inner interceptors (authzgrpc) found, the status code and
// the messages received and sent.
//
//	em, err := audit.New("instances", audit.WithSink(audit.NewSlogSink(logger)))
//	...
//	ai, err := auditgrpc.New(em,
//		auditgrpc.WithMethod("/grpc.health.v1.Health/", audit.Route{Level: audit.None}),
//		auditgrpc.WithMethod("/pkg.Instances/Launch", audit.Route{Type: "com.example.instances.launch"}))
//	...
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(ai.UnaryServerInterceptor(), authzInterceptors.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(ai.StreamServerInterceptor(), authzInterceptors.StreamServerInterceptor()))
//
// Put the audit interceptors first (outermost), so that they see calls
// the inner ones refuse. Events record the metadata level: messages are
// not recorded and field expressions are not evaluated for gRPC calls, so
// a Route's Fields are an error and Request levels record what Metadata
// does. The outcome's code is the gRPC status code and its error the
// google.rpc.Code name ("PERMISSION_DENIED").
//
// With a FailClosed emitter a RequestReceived event must be confirmed by
// every sink before the handler runs; when it is not within the
// emitter's timeout the call fails with UNAVAILABLE and the handler never
// runs.
package auditgrpc
