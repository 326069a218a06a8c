package overloadgrpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/overload/overloadgrpc"
)

func bulkheadServer(t *testing.T, limit int) (*env, *overload.Bulkhead) {
	t.Helper()
	b, err := overload.NewBulkhead("health", limit, overload.WithRetryAfter(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := overloadgrpc.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return startWith(t, ic.UnaryServerInterceptor(), ic.StreamServerInterceptor()), b
}

func TestServerShedsOverTheCapWithRetryInfo(t *testing.T) {
	e, b := bulkheadServer(t, 1)
	// An open Watch stream holds the only slot.
	ctx, cancel := context.WithCancel(t.Context())
	w, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	if b.InFlight() != 1 {
		t.Fatalf("InFlight() = %d with a stream open, want 1", b.InFlight())
	}
	var trailer metadata.MD
	_, err = e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("Check over the cap: %v, want UNAVAILABLE", err)
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != 2*time.Second {
		t.Fatalf("RetryInfo delay %v, want 2s (details %v)", delay, st.Details())
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "2000" {
		t.Fatalf("pushback trailer %v, want [2000]", got)
	}
	w2, err := e.client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w2.Recv()
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("second stream over the cap: %v, want UNAVAILABLE", err)
	}
	if got := e.served.Load(); got != 1 {
		t.Fatalf("the service saw %d calls, want 1: shed calls reached it", got)
	}
	cancel()
	for b.InFlight() != 0 { // the stream's handler returns after the cancel arrives
		time.Sleep(time.Millisecond)
	}
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check after the stream ended: %v", err)
	}
}

func TestNilServerInterceptorsAdmitAll(t *testing.T) {
	ic, err := overloadgrpc.New(nil)
	if err == nil || ic != nil {
		t.Fatalf("New(nil) = %v, %v; want an error", ic, err)
	}
	e := startWith(t, ic.UnaryServerInterceptor(), ic.StreamServerInterceptor())
	if _, err := e.client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestLimiterServerShedsSheddableFirst(t *testing.T) {
	// A limit pinned at 2, no queue; sheddable calls may use half of it.
	l, err := overload.NewLimiter("health", overload.WithLimits(2, 2), overload.WithInitialLimit(2),
		overload.WithMinRTTInterval(0), overload.WithClassShares(0.5, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	classify := func(ctx context.Context, _ string) overload.Class {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-criticality"); len(v) > 0 {
			c, _ := overload.ParseClass(v[0])
			return c
		}
		return overload.Default
	}
	ic, err := overloadgrpc.NewLimiter(l, classify)
	if err != nil {
		t.Fatal(err)
	}
	e := startWith(t, ic.UnaryServerInterceptor(), ic.StreamServerInterceptor())
	open := func(class string) (healthpb.Health_WatchClient, context.CancelFunc, error) {
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(t.Context(), "x-criticality", class))
		w, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		return w, cancel, err
	}
	_, cancel1, err := open("critical") // takes 1 of 2
	if err != nil {
		t.Fatal(err)
	}
	defer cancel1()
	_, cancel2, err := open("sheddable") // sheddable may use half the limit: 1 in flight already
	defer cancel2()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("sheddable stream at half the limit: %v, want UNAVAILABLE", err)
	}
	_, cancel3, err := open("critical") // critical keeps the whole limit
	defer cancel3()
	if err != nil {
		t.Fatalf("critical stream under the limit: %v", err)
	}
	if _, err := overloadgrpc.NewLimiter(nil, nil); err == nil {
		t.Fatal("NewLimiter(nil) succeeded")
	}
}
