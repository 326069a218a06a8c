package ratelimitgrpc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/internal/otelx"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/ratelimitgrpc"
)

// env is a real grpc.Server with the health service on a bufconn
// listener, and a client connected to it.
type env struct {
	client healthpb.HealthClient
	served atomic.Int64 // calls and streams that reached the service
}

type serverSetup struct {
	unary  grpc.UnaryServerInterceptor
	stream grpc.StreamServerInterceptor
	dial   []grpc.DialOption
}

func start(t testing.TB, s serverSetup) *env {
	t.Helper()
	e := &env{}
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if s.unary != nil {
		unary = append(unary, s.unary)
	}
	if s.stream != nil {
		stream = append(stream, s.stream)
	}
	unary = append(unary, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		e.served.Add(1)
		return h(ctx, req)
	})
	stream = append(stream, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		e.served.Add(1)
		return h(srv, ss)
	})
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	dial := append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, s.dial...)
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		hs.Shutdown()
		srv.Stop()
		<-done
	})
	e.client = healthpb.NewHealthClient(conn)
	return e
}

func withKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
}

func keyed(t testing.TB, limit rate.Limit, burst int) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(limit, burst)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func unary(t testing.TB, def ratelimitgrpc.Policy, opts ...ratelimitgrpc.Option) grpc.UnaryServerInterceptor {
	t.Helper()
	i, err := ratelimitgrpc.New(def, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return i.UnaryServerInterceptor()
}

// checkLimited asserts err is RESOURCE_EXHAUSTED (by policy, unless it is
// "") with a RetryInfo detail and, when trailer is not nil, a
// grpc-retry-pushback-ms trailer close to retry.
func checkLimited(t *testing.T, err error, trailer metadata.MD, policy string, retry time.Duration) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != codes.ResourceExhausted || (policy != "" && !strings.Contains(s.Message(), `policy "`+policy+`"`)) {
		t.Fatalf("error %v, want RESOURCE_EXHAUSTED by policy %q", err, policy)
	}
	var info *errdetails.RetryInfo
	for _, d := range s.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	// Real time passes between calls, so the delay is a little under retry.
	if info == nil || info.RetryDelay.AsDuration() > retry || info.RetryDelay.AsDuration() < retry-time.Minute {
		t.Fatalf("details %v, want a RetryInfo of about %v", s.Details(), retry)
	}
	if trailer != nil {
		ms, err := strconv.ParseInt(strings.Join(trailer.Get("grpc-retry-pushback-ms"), ""), 10, 64)
		if err != nil || time.Duration(ms)*time.Millisecond > retry || time.Duration(ms)*time.Millisecond < retry-time.Minute {
			t.Fatalf("grpc-retry-pushback-ms = %q, want about %v", trailer.Get("grpc-retry-pushback-ms"), retry)
		}
	}
}

func check(e *env, ctx context.Context, key string, opts ...grpc.CallOption) error {
	_, err := e.client.Check(withKey(ctx, key), &healthpb.HealthCheckRequest{}, opts...)
	return err
}

func TestUnaryServerInterceptor(t *testing.T) {
	e := start(t, serverSetup{unary: unary(t, ratelimitgrpc.Policy{Name: "api", Limiter: keyed(t, rate.Every(time.Hour), 2), Key: ratelimitgrpc.APIKey})})
	ctx := t.Context()
	for i := range 2 {
		if err := check(e, ctx, "alice"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var trailer metadata.MD
	checkLimited(t, check(e, ctx, "alice", grpc.Trailer(&trailer)), trailer, "api", time.Hour)
	if err := check(e, ctx, "bob"); err != nil {
		t.Fatalf("bob has his own bucket: %v", err)
	}
	err := check(e, ctx, "")
	if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument || s.Message() != ratelimit.ErrNoKey.Error() {
		t.Fatalf("call without a key: %v, want INVALID_ARGUMENT with ErrNoKey", err)
	}
	if n := e.served.Load(); n != 3 {
		t.Fatalf("%d calls reached the service, want 3", n)
	}
}

func TestWithMethod(t *testing.T) {
	e := start(t, serverSetup{unary: unary(t,
		ratelimitgrpc.Policy{Name: "default", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey},
		ratelimitgrpc.WithMethod(healthpb.Health_Check_FullMethodName, ratelimitgrpc.Policy{Name: "check", Limiter: keyed(t, rate.Every(time.Hour), 2), Key: ratelimitgrpc.APIKey}),
		ratelimitgrpc.WithMethod("/grpc.health.v1.Health/", ratelimitgrpc.Policy{}), // the rest of the service is exempt
	)})
	ctx := t.Context()
	for range 2 {
		if err := check(e, ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	checkLimited(t, check(e, ctx, "k"), nil, "check", time.Hour)
	for i := range 5 {
		if _, err := e.client.List(withKey(ctx, "k"), &healthpb.HealthListRequest{}); err != nil {
			t.Fatalf("List %d on an exempt method: %v", i, err)
		}
	}
}

func TestStreamServerInterceptor(t *testing.T) {
	i, err := ratelimitgrpc.New(ratelimitgrpc.Policy{Name: "watch", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, serverSetup{stream: i.StreamServerInterceptor()})

	ctx, cancel := context.WithCancel(t.Context())
	first, err := e.client.Watch(withKey(ctx, "k"), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := first.Recv(); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first stream: %v, %v", resp, err)
	}
	cancel()

	second, err := e.client.Watch(withKey(t.Context(), "k"), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = second.Recv()
	checkLimited(t, err, second.Trailer(), "watch", time.Hour)
	if n := e.served.Load(); n != 1 {
		t.Fatalf("%d streams reached the service, want 1", n)
	}
}

func TestServerOptions(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tests := []struct {
		name      string
		def       ratelimitgrpc.Policy
		opts      []ratelimitgrpc.Option
		keys      []string // one call each
		wantCodes []codes.Code
		wantLog   string
	}{
		{
			name: "anonymous callers share a bucket",
			def:  ratelimitgrpc.Policy{Name: "anon", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey},
			opts: []ratelimitgrpc.Option{ratelimitgrpc.WithAnonymousKey("anonymous")},
			keys: []string{"", "", "k"}, wantCodes: []codes.Code{codes.OK, codes.ResourceExhausted, codes.OK},
		},
		{
			name: "dry run limits nothing",
			def:  ratelimitgrpc.Policy{Name: "dry", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey},
			opts: []ratelimitgrpc.Option{ratelimitgrpc.WithDryRun(true), ratelimitgrpc.WithMeterProvider(mp), ratelimitgrpc.WithLogger(logger)},
			keys: []string{"k", "k", "k"}, wantCodes: []codes.Code{codes.OK, codes.OK, codes.OK},
			wantLog: "would be limited",
		},
		{
			name: "dry run rejects no call without a key",
			def:  ratelimitgrpc.Policy{Name: "dry-nokey", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey},
			opts: []ratelimitgrpc.Option{ratelimitgrpc.WithDryRun(true), ratelimitgrpc.WithLogger(logger)},
			keys: []string{"", ""}, wantCodes: []codes.Code{codes.OK, codes.OK},
			wantLog: "dry run",
		},
		{
			name: "filter exempts calls",
			def:  ratelimitgrpc.Policy{Name: "filtered", Limiter: keyed(t, rate.Every(time.Hour), 1), Key: ratelimitgrpc.APIKey},
			opts: []ratelimitgrpc.Option{ratelimitgrpc.WithFilter(func(ctx context.Context, method string) bool {
				return method != healthpb.Health_Check_FullMethodName
			})},
			keys: []string{"k", "k", "k"}, wantCodes: []codes.Code{codes.OK, codes.OK, codes.OK},
		},
		{
			name: "a failing limiter lets calls through",
			def:  ratelimitgrpc.Policy{Name: "down", Limiter: failing{}, Key: ratelimitgrpc.APIKey},
			opts: []ratelimitgrpc.Option{ratelimitgrpc.WithLogger(logger)},
			keys: []string{"k", "k"}, wantCodes: []codes.Code{codes.OK, codes.OK},
			wantLog: "store unreachable",
		},
		{
			// A bufconn, like a Unix socket, has no IP address: its callers
			// share the bucket of ratelimit.LocalKey rather than fail.
			name: "peers of an in-process listener share a bucket",
			def:  ratelimitgrpc.Policy{Name: "peer", Limiter: keyed(t, rate.Every(time.Hour), 1)},
			keys: []string{"k", "other"}, wantCodes: []codes.Code{codes.OK, codes.ResourceExhausted},
		},
		{
			name: "one bucket needs no key",
			def:  ratelimitgrpc.Policy{Name: "global", Limiter: newLimiter(t, rate.Every(time.Hour), 2)},
			keys: []string{"", "k", ""}, wantCodes: []codes.Code{codes.OK, codes.OK, codes.ResourceExhausted},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			e := start(t, serverSetup{unary: unary(t, tc.def, tc.opts...)})
			for i, key := range tc.keys {
				if got := status.Code(check(e, t.Context(), key)); got != tc.wantCodes[i] {
					t.Fatalf("call %d: %v, want %v", i, got, tc.wantCodes[i])
				}
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Fatalf("logs %q, want %q", logs.String(), tc.wantLog)
			}
		})
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "paved.ratelimit.decisions" {
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					d, _ := p.Attributes.Value("decision")
					pol, _ := p.Attributes.Value(otelx.AttrRateLimitPolicy)
					counts[pol.AsString()+"/"+d.AsString()] = p.Value
				}
			}
		}
	}
	if counts["dry/allowed"] != 1 || counts["dry/limited"] != 2 {
		t.Fatalf("dry-run decisions %v, want 1 allowed and 2 limited", counts)
	}
}

type failing struct{}

func (failing) Decide(context.Context, string, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("store unreachable")
}
func (failing) Quota() ratelimit.Quota { return ratelimit.Quota{Limit: 1, Burst: 1} }

func TestServerInterceptorRejectsBadOptions(t *testing.T) {
	k := keyed(t, 1, 1)
	good := ratelimitgrpc.Policy{Name: "p", Limiter: k}
	tests := []struct {
		name string
		def  ratelimitgrpc.Policy
		opts []ratelimitgrpc.Option
	}{
		{"no limiter", ratelimitgrpc.Policy{}, nil},
		{"empty name", ratelimitgrpc.Policy{Limiter: k}, nil},
		{"bad method name", good, []ratelimitgrpc.Option{ratelimitgrpc.WithMethod("Check", good)}},
		{"method twice", good, []ratelimitgrpc.Option{ratelimitgrpc.WithMethod("/a.B/C", good), ratelimitgrpc.WithMethod("/a.B/C", good)}},
		{"bad method policy", good, []ratelimitgrpc.Option{ratelimitgrpc.WithMethod("/a.B/C", ratelimitgrpc.Policy{Name: "\x00", Limiter: k})}},
		{"empty anonymous key", good, []ratelimitgrpc.Option{ratelimitgrpc.WithAnonymousKey("")}},
		{"nil option", good, []ratelimitgrpc.Option{nil}},
		{"nil filter", good, []ratelimitgrpc.Option{ratelimitgrpc.WithFilter(nil)}},
		{"nil *Keyed", ratelimitgrpc.Policy{Name: "p", Limiter: (*ratelimit.Keyed)(nil)}, nil},
		{"nil *Limiter on a method", good, []ratelimitgrpc.Option{ratelimitgrpc.WithMethod("/a.B/C", ratelimitgrpc.Policy{Name: "p", Limiter: (*ratelimit.Limiter)(nil)})}},
		{"bad default policy name", ratelimitgrpc.Policy{Name: "é", Limiter: k}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if i, err := ratelimitgrpc.New(tc.def, tc.opts...); err == nil {
				t.Errorf("New = %v, want an error", i)
			}
		})
	}
}

// TestNilMeterProviderIsTheGlobalOne: a nil MeterProvider means the global
// one, as every paved package reads it, not an error from New.
func TestNilMeterProviderIsTheGlobalOne(t *testing.T) {
	if _, err := ratelimitgrpc.New(ratelimitgrpc.Policy{Name: "p", Limiter: keyed(t, 1, 1)}, ratelimitgrpc.WithMeterProvider(nil)); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// TestNewNamesItsOwnOption: a bad option of this package is reported
// under this package's name, whatever the policies.
func TestNewNamesItsOwnOption(t *testing.T) {
	_, err := ratelimitgrpc.New(ratelimitgrpc.Policy{Name: "api", Limiter: keyed(t, 1, 1)}, ratelimitgrpc.WithAnonymousKey(""))
	if err == nil || err.Error() != "ratelimitgrpc: WithAnonymousKey: empty key" {
		t.Fatalf("New: %v, want ratelimitgrpc: WithAnonymousKey: empty key", err)
	}
}
