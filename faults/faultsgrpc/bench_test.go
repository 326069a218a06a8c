package faultsgrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/faults/faultsgrpc"
)

// BenchmarkUnaryServerInterceptor compares a unary handler called
// directly with it behind the interceptor with no rules (the default) and
// with a rule that does not match the method.
func BenchmarkUnaryServerInterceptor(b *testing.B) {
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	ctx := context.Background()
	run := func(b *testing.B, inj *faults.Injector) {
		ic, err := faultsgrpc.New(inj)
		if err != nil {
			b.Fatal(err)
		}
		in := ic.UnaryServerInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := in(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := handler(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paved/off", func(b *testing.B) { run(b, quiet(b)) })
	b.Run("paved/no-match", func(b *testing.B) {
		run(b, quiet(b, faults.Rule{Name: "watch", Percent: 100, GRPCCode: "UNAVAILABLE", Match: faults.Match{GRPCMethod: "/grpc.health.v1.Health/Watch"}}))
	})
}
