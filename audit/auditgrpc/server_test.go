package auditgrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	ce "github.com/cloudevents/sdk-go/v2/event"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/audit/auditgrpc"
	"github.com/paved-go/paved/internal/callinfo"
)

type memSink struct {
	mu     sync.Mutex
	lines  [][]byte
	gate   chan struct{}
	closed bool
}

func (s *memSink) Name() string { return "mem" }
func (s *memSink) Write(ctx context.Context, batch []*audit.Event) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range batch {
		b, _ := json.Marshal(ev)
		s.lines = append(s.lines, b)
	}
	return nil
}
func (s *memSink) Close(context.Context) error { s.closed = true; return nil }

func (s *memSink) events(t *testing.T) []*audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*audit.Event
	for _, b := range s.lines {
		var e ce.Event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("invalid CloudEvent: %v\n%s", err, b)
		}
		var ev audit.Event
		json.Unmarshal(b, &ev)
		out = append(out, &ev)
	}
	return out
}

// authzStub plays authzgrpc: it fills the call record.
func authzStub(deny bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if ci := callinfo.From(ctx); ci != nil {
			ci.PrincipalID, ci.PrincipalType = "svc-a", "service"
			ci.Decision, ci.Rule = "allow", "health-readers"
			ci.Resources = append(ci.Resources, callinfo.Resource{Kind: "service", ID: "health"})
			if deny {
				ci.Decision = "deny"
				return nil, status.Error(codes.PermissionDenied, "denied")
			}
		}
		return h(ctx, req)
	}
}

type env struct {
	client healthpb.HealthClient
	stop   func() // stops the server gracefully: every handler has returned
	served int
	mu     sync.Mutex
}

func start(t *testing.T, ai *auditgrpc.Interceptors, deny bool) *env {
	t.Helper()
	e := &env{}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(ai.UnaryServerInterceptor(), authzStub(deny), func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			e.mu.Lock()
			e.served++
			e.mu.Unlock()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(ai.StreamServerInterceptor()))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent("probe/2"))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			conn.Close()
			srv.GracefulStop()
			<-done
		})
	}
	t.Cleanup(e.stop)
	e.client = healthpb.NewHealthClient(conn)
	return e
}

func closeEm(t *testing.T, em *audit.Emitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := em.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUnary(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deny     bool
		code     int
		result   string
		kind     string
		decision string
	}{
		{"allowed", false, 0, "success", "", "allow"},
		{"denied", true, int(codes.PermissionDenied), "failure", "PERMISSION_DENIED", "deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			em, err := audit.New("health", audit.WithSink(sink))
			if err != nil {
				t.Fatal(err)
			}
			ai, err := auditgrpc.New(em, auditgrpc.WithMethod("/grpc.health.v1.Health/Check", audit.Route{Type: "com.example.health.check"}))
			if err != nil {
				t.Fatal(err)
			}
			e := start(t, ai, tc.deny)
			_, err = e.client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); int(got) != tc.code {
				t.Fatalf("code %v", got)
			}
			closeEm(t, em)
			evs := sink.events(t)
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ev := evs[0]
			d := ev.Data
			if ev.Type != "com.example.health.check" || ev.Subject != "service/health" || d.Action.Protocol != "grpc" ||
				d.Action.Operation != "/grpc.health.v1.Health/Check" || d.Principal == nil || d.Principal.ID != "svc-a" ||
				d.Authorization == nil || d.Authorization.Decision != tc.decision || d.Outcome.Code != tc.code ||
				d.Outcome.Result != tc.result || d.Outcome.Error != tc.kind || d.Client == nil || !strings.HasPrefix(d.Client.UserAgent, "probe/2") ||
				d.Messages == nil || d.Messages.Received != 1 || d.Duration <= 0 {
				b, _ := json.Marshal(ev)
				t.Errorf("event %s", b)
			}
		})
	}
}

func TestStream(t *testing.T) {
	sink := &memSink{}
	em, err := audit.New("health", audit.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := auditgrpc.New(em)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, ai, false)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Recv()
	e.stop() // waits for the handler, which returns on the cancellation
	closeEm(t, em)
	evs := sink.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	d := evs[0].Data
	if d.Action.Operation != "/grpc.health.v1.Health/Watch" || d.Messages == nil || d.Messages.Received != 1 || d.Messages.Sent != 1 ||
		d.Outcome.Error != "CANCELLED" {
		b, _ := json.Marshal(evs[0])
		t.Errorf("event %s", b)
	}
}

func TestSkipAndFilter(t *testing.T) {
	sink := &memSink{}
	em, err := audit.New("health", audit.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := auditgrpc.New(em, auditgrpc.WithMethod("/grpc.health.v1.Health/", audit.Route{Level: audit.None}))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, ai, false)
	if _, err := e.client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	closeEm(t, em)
	if n := len(sink.events(t)); n != 0 {
		t.Fatalf("%d events for a skipped service", n)
	}
}

func TestFailClosed(t *testing.T) {
	sink := &memSink{gate: make(chan struct{})}
	em, err := audit.New("health", audit.WithSink(sink), audit.WithMode(audit.FailClosed), audit.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := auditgrpc.New(em)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, ai, false)
	_, err = e.client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("hanging sink: %v, want UNAVAILABLE", err)
	}
	e.mu.Lock()
	served := e.served
	e.mu.Unlock()
	if served != 0 {
		t.Fatal("the handler ran")
	}
	close(sink.gate)
	if _, err := e.client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("healthy sink: %v", err)
	}
	closeEm(t, em)
	var stages []string
	for _, ev := range sink.events(t) {
		s := ev.Data.Stage
		if ev.Data.Outcome != nil {
			s += "/" + ev.Data.Outcome.Error
		}
		stages = append(stages, s)
	}
	if got, want := strings.Join(stages, " "), "RequestReceived ResponseComplete/UNAVAILABLE RequestReceived ResponseComplete/"; got != want {
		t.Errorf("stages %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	em, err := audit.New("x", audit.WithSink(&memSink{}))
	if err != nil {
		t.Fatal(err)
	}
	defer closeEm(t, em)
	for name, tc := range map[string]struct {
		em   *audit.Emitter
		opts []auditgrpc.Option
		want string
	}{
		"nil emitter": {nil, nil, "nil *audit.Emitter"},
		"nil option":  {em, []auditgrpc.Option{nil}, "option 0 is nil"},
		"bad method":  {em, []auditgrpc.Option{auditgrpc.WithMethod("Check", audit.Route{})}, "neither"},
		"fields":      {em, []auditgrpc.Option{auditgrpc.WithMethod("/a.B/C", audit.Route{Fields: map[string]string{"x": "1"}})}, "not supported"},
		"twice":       {em, []auditgrpc.Option{auditgrpc.WithMethod("/a.B/C", audit.Route{}), auditgrpc.WithMethod("/a.B/C", audit.Route{})}, "twice"},
		"filter":      {em, []auditgrpc.Option{auditgrpc.WithFilter(nil)}, "WithFilter"},
		"level":       {em, []auditgrpc.Option{auditgrpc.WithDefault(audit.Route{Level: 9})}, "unknown level"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auditgrpc.New(tc.em, tc.opts...)
			if err == nil || !strings.HasPrefix(err.Error(), "auditgrpc: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

var _ = errors.New
