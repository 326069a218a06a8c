package faultsgrpc_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/faults/faultsgrpc"
)

func metadataValue(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

const (
	check = "/grpc.health.v1.Health/Check"
	watch = "/grpc.health.v1.Health/Watch"
)

// checkInjected asserts err is an injected fault of rule with code.
func checkInjected(t *testing.T, err error, code codes.Code, rule string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), "faults: injected") ||
		!strings.Contains(status.Convert(err).Message(), "(rule "+rule+")") {
		t.Fatalf("error %v, want %v injected by rule %s", err, code, rule)
	}
}

func TestOffInjectsNothing(t *testing.T) {
	e := start(t, quiet(t), quiet(t))
	var trailer metadata.MD
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if len(trailer.Get("paved-fault")) != 0 || e.served.Load() != 1 {
		t.Fatalf("trailer %v, served %d", trailer, e.served.Load())
	}
}

func TestServerFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rule   faults.Rule
		code   codes.Code
		served int64
	}{
		{"grpc code", faults.Rule{GRPCCode: "RESOURCE_EXHAUSTED"}, codes.ResourceExhausted, 0},
		{"http status", faults.Rule{Status: 503}, codes.Unavailable, 0},
		{"reset", faults.Rule{Reset: true}, codes.Unavailable, 0},
		{"abort", faults.Rule{Abort: true}, codes.Unavailable, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Name, tc.rule.Percent = "drill", 100
			e := start(t, quiet(t, tc.rule), nil)
			var trailer metadata.MD
			_, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
			checkInjected(t, err, tc.code, "drill")
			if got := trailer.Get("paved-fault"); len(got) != 1 || got[0] != "drill" {
				t.Fatalf("paved-fault trailer %v, want [drill]", got)
			}
			if e.served.Load() != tc.served {
				t.Fatalf("served %d, want %d", e.served.Load(), tc.served)
			}
		})
	}
}

func TestServerStreamFaults(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		e := start(t, quiet(t, faults.Rule{Name: "drill", Percent: 100, GRPCCode: "UNAVAILABLE", Match: faults.Match{GRPCMethod: watch}}), nil)
		w, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		checkInjected(t, err, codes.Unavailable, "drill")
		if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("Check, which the rule does not match: %v", err)
		}
	})
	t.Run("abort", func(t *testing.T) {
		e := start(t, quiet(t, faults.Rule{Name: "cut", Percent: 100, Abort: true, Match: faults.Match{GRPCMethod: "/grpc.health.v1.Health/"}}), nil)
		w, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("first message: %v, %v", m, err)
		}
		e.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) // a second message
		_, err = w.Recv()
		checkInjected(t, err, codes.Unavailable, "cut")
		if tr := w.Trailer().Get("paved-fault"); len(tr) != 1 || tr[0] != "cut" {
			t.Fatalf("trailer %v", tr)
		}
	})
}

func TestServerLatency(t *testing.T) {
	e := start(t, quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: 50 * time.Millisecond}), nil)
	start := time.Now()
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("took %v, want at least 50ms", took)
	}
}

func TestLatencyEndsWithTheDeadline(t *testing.T) {
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: time.Minute})
			var e *env
			if side == "server" {
				e = start(t, inj, nil)
			} else {
				e = start(t, nil, inj)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 30*time.Second {
				t.Fatalf("Check: %v after %v, want DEADLINE_EXCEEDED at the deadline", err, time.Since(start))
			}
			if e.served.Load() != 0 {
				t.Fatal("the call went on after its deadline")
			}
		})
	}
}

func TestServerMatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		match   faults.Match
		md      []string
		matches bool
	}{
		{"method", faults.Match{GRPCMethod: check}, nil, true},
		{"service", faults.Match{GRPCMethod: "/grpc.health.v1.Health/"}, nil, true},
		{"other method", faults.Match{GRPCMethod: watch}, nil, false},
		{"http method", faults.Match{Method: "POST"}, nil, false},
		{"path prefix", faults.Match{PathPrefix: "/grpc.health"}, nil, false},
		{"metadata", faults.Match{Header: "X-Drill: on"}, []string{"x-drill", "on"}, true},
		{"metadata absent", faults.Match{Header: "X-Drill: on"}, nil, false},
		{"metadata other value", faults.Match{Header: "X-Drill: on"}, []string{"x-drill", "off"}, false},
		{"principal", faults.Match{Principal: "ops"}, []string{"x-principal", "ops"}, true},
		{"other principal", faults.Match{Principal: "ops"}, []string{"x-principal", "bob"}, false},
		{"authority", faults.Match{Host: "bufnet"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, quiet(t, faults.Rule{Name: "m", Percent: 100, GRPCCode: "ABORTED", Match: tc.match}), nil)
			ctx := t.Context()
			if tc.md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tc.md...)
			}
			_, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{})
			if got := status.Code(err) == codes.Aborted; got != tc.matches {
				t.Fatalf("Check: %v; matched %v, want %v", err, got, tc.matches)
			}
		})
	}
}

func TestClientFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rule   faults.Rule
		code   codes.Code
		served int64
		is     error
	}{
		{"grpc code", faults.Rule{GRPCCode: "PERMISSION_DENIED"}, codes.PermissionDenied, 0, nil},
		{"reset", faults.Rule{Reset: true}, codes.Unavailable, 0, syscall.ECONNRESET},
		{"abort", faults.Rule{Abort: true}, codes.Unavailable, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Name, tc.rule.Percent = "drill", 100
			tc.rule.Match = faults.Match{Host: "passthrough:///bufnet", GRPCMethod: check}
			e := start(t, nil, quiet(t, tc.rule))
			_, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{})
			checkInjected(t, err, tc.code, "drill")
			ie, ok := errors.AsType[*faults.InjectedError](err)
			if !ok || ie.Rule != "drill" {
				t.Fatalf("error %v does not unwrap to the *faults.InjectedError", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not unwrap to %v", err, tc.is)
			}
			if e.served.Load() != tc.served {
				t.Fatalf("served %d, want %d", e.served.Load(), tc.served)
			}
		})
	}
}

func TestClientStreamFaults(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		e := start(t, nil, quiet(t, faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Header: "x-drill"}}))
		_, err := e.client.Watch(metadata.AppendToOutgoingContext(t.Context(), "x-drill", "yes"), &healthpb.HealthCheckRequest{})
		checkInjected(t, err, codes.Unavailable, "drill")
		if e.served.Load() != 0 {
			t.Fatal("the stream was opened")
		}
	})
	t.Run("abort", func(t *testing.T) {
		e := start(t, nil, quiet(t, faults.Rule{Name: "cut", Percent: 100, Abort: true}))
		w, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatalf("first message: %v", err)
		}
		_, err = w.Recv()
		checkInjected(t, err, codes.Unavailable, "cut")
	})
}

func TestClientRates(t *testing.T) {
	e := start(t, nil, quiet(t, faults.Rule{Name: "half", Percent: 50, GRPCCode: "UNAVAILABLE"}))
	const n = 2000
	failed := 0
	for range n {
		if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			failed++
		}
	}
	if failed < n*47/100 || failed > n*53/100 || e.served.Load() != int64(n-failed) {
		t.Fatalf("%d of %d failed, %d served; want 50%% ± 3", failed, n, e.served.Load())
	}
}

func TestNil(t *testing.T) {
	var ic *faultsgrpc.Interceptors
	if ic.UnaryServerInterceptor() == nil || ic.StreamServerInterceptor() == nil ||
		ic.UnaryClientInterceptor() == nil || ic.StreamClientInterceptor() == nil {
		t.Fatal("an interceptor of nil *Interceptors is nil")
	}
	nilInj, err := faultsgrpc.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = nilInj.UnaryClientInterceptor()(t.Context(), check, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		called = true
		return nil
	})
	if err != nil || !called {
		t.Fatalf("a nil Injector's interceptor: %v, called %v", err, called)
	}
}

func TestClientLatency(t *testing.T) {
	e := start(t, nil, quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: 50 * time.Millisecond, Match: faults.Match{GRPCMethod: watch}}))
	start := time.Now()
	w, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("Watch took %v, want at least 50ms", took)
	}
}
