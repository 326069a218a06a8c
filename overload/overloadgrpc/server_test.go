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
