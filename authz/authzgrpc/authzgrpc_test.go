package authzgrpc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/authz/authzgrpc"
)

// keys authenticates the metadata x-test-user.
type keys map[string]*authz.Principal

func (k keys) Authenticate(_ context.Context, h authz.Headers) (*authz.Principal, error) {
	u := h.Get("x-test-user")
	if u == "" {
		return nil, authz.ErrNoCredentials
	}
	if p, ok := k[u]; ok {
		return p, nil
	}
	return nil, errors.Join(authz.ErrUnauthenticated, errors.New("unknown user"))
}

func (keys) Challenge(error) string { return `Test realm="grpc"` }

var users = keys{
	"alice": {ID: "alice", Tenant: "blue", Roles: []string{"admin"}},
	"bob":   {ID: "bob", Tenant: "green"},
}

const (
	check = "/grpc.health.v1.Health/Check"
	watch = "/grpc.health.v1.Health/Watch"
	list  = "/grpc.health.v1.Health/List"
)

type env struct {
	client healthpb.HealthClient
	srv    *grpc.Server
	seen   chan string // principals the service saw
}

func start(t *testing.T, ic *authzgrpc.Interceptors) *env {
	t.Helper()
	e := &env{seen: make(chan string, 16)}
	lis := bufconn.Listen(1 << 20)
	see := func(ctx context.Context) {
		id, _ := authz.PrincipalID(ctx)
		e.seen <- id
	}
	e.srv = grpc.NewServer(
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor(), func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			see(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor(), func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			see(ss.Context())
			return h(srv, ss)
		}))
	hs := health.NewServer()
	hs.SetServingStatus("allowed", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("secret", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(e.srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		hs.Shutdown()
		e.srv.Stop()
		<-done
	})
	e.client = healthpb.NewHealthClient(conn)
	return e
}

func interceptors(t *testing.T, opts ...authz.Option) *authzgrpc.Interceptors {
	t.Helper()
	az, err := authz.New(append([]authz.Option{authz.WithAuthenticator(users)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { az.Close() })
	ic, err := authzgrpc.New(az)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

func as(user string) context.Context {
	if user == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "x-test-user", user)
}

func TestUnary(t *testing.T) {
	ic := interceptors(t,
		authz.WithRoute(check,
			authz.Allow("admins", `hasRole("admin")`),
			authz.Allow("own service", `request.body.service == principal.tenant`),
			authz.Forbid("secret", `request.body.service == "secret" && principal.id != "alice"`)),
		authz.WithPublic(list),
		authz.WithRoute(watch, authz.Allow("admins", `hasRole("admin")`)))
	e := start(t, ic)
	tests := []struct {
		name, user, service string
		code                codes.Code
		msg                 string
	}{
		{"admin allowed", "alice", "allowed", codes.OK, ""},
		{"no rule allows", "bob", "allowed", codes.PermissionDenied, "authz: denied: no rule allowed"},
		{"body field allows", "bob", "green", codes.NotFound, ""}, // allowed; the service has no status for it
		{"forbid wins", "bob", "secret", codes.PermissionDenied, `authz: denied: forbidden by rule "secret"`},
		{"no credentials", "", "allowed", codes.Unauthenticated, "authz: unauthenticated"},
		{"bad credentials", "mallory", "allowed", codes.Unauthenticated, "authz: unauthenticated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.Check(as(tc.user), &healthpb.HealthCheckRequest{Service: tc.service})
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tc.code)
			}
			if tc.msg != "" && st.Message() != tc.msg {
				t.Fatalf("message %q, want %q", st.Message(), tc.msg)
			}
			if strings.Contains(st.Message(), "principal") {
				t.Fatalf("message %q leaks a rule", st.Message())
			}
			if tc.code == codes.OK || tc.code == codes.NotFound {
				if got := <-e.seen; got != tc.user {
					t.Fatalf("the service saw principal %q, want %q", got, tc.user)
				}
			}
		})
	}
	if _, err := e.client.List(context.Background(), &healthpb.HealthListRequest{}); err != nil {
		t.Fatalf("public method: %v", err)
	}
	<-e.seen
}

func TestStream(t *testing.T) {
	ic := interceptors(t, authz.WithRoute(watch, authz.Allow("admins", `hasRole("admin") && request.body == nil`)))
	e := start(t, ic)
	for _, tc := range []struct {
		user string
		code codes.Code
	}{{"alice", codes.OK}, {"bob", codes.PermissionDenied}, {"", codes.Unauthenticated}} {
		ctx, cancel := context.WithCancel(as(tc.user))
		s, err := e.client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "allowed"})
		if err == nil {
			_, err = s.Recv()
		}
		cancel()
		if got := status.Code(err); got != tc.code {
			t.Fatalf("%s: code %v (%v), want %v", tc.user, got, err, tc.code)
		}
		if tc.code == codes.OK {
			if got := <-e.seen; got != tc.user {
				t.Fatalf("the service saw %q", got)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	ic := interceptors(t, authz.WithRoute(check, authz.Allow("all", "true")), authz.WithPublic("/gone.Service/Method"))
	e := start(t, ic)
	err := ic.Check(e.srv)
	if err == nil {
		t.Fatal("Check accepted methods without rules")
	}
	for _, want := range []string{`"` + watch + `" has no rule`, `"` + list + `" has no rule`, `"/gone.Service/Method" has rules or is public but is not served`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %q:\n%v", want, err)
		}
	}
	ok := interceptors(t, authz.WithRoute(check, authz.Allow("all", "true")), authz.WithRoute(watch, authz.Allow("all", "true")), authz.WithPublic(list))
	if err := ok.Check(e.srv); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestRequestBodyOption(t *testing.T) {
	az, err := authz.New(authz.WithAuthenticator(users),
		authz.WithRoute(check, authz.Allow("flag", `request.body.flag == true`)))
	if err != nil {
		t.Fatal(err)
	}
	ic, err := authzgrpc.New(az, authzgrpc.WithRequestBody(func(req any) ([]byte, error) {
		if req.(*healthpb.HealthCheckRequest).GetService() == "allowed" {
			return []byte(`{"flag": true}`), nil
		}
		return []byte(`{"flag": `), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, ic)
	if _, err := e.client.Check(as("bob"), &healthpb.HealthCheckRequest{Service: "allowed"}); err != nil {
		t.Fatalf("extracted body: %v", err)
	}
	<-e.seen
	if _, err := e.client.Check(as("bob"), &healthpb.HealthCheckRequest{Service: "other"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad JSON body: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := authzgrpc.New(nil, authzgrpc.WithRequestBody(nil)); err == nil || !strings.Contains(err.Error(), "nil *authz.Authorizer") || !strings.Contains(err.Error(), "WithRequestBody") {
		t.Fatalf("New(nil, nil body) = %v", err)
	}
}

func TestNilInterceptorsDeny(t *testing.T) {
	var ic *authzgrpc.Interceptors
	e := start(t, ic)
	if _, err := e.client.Check(as("alice"), &healthpb.HealthCheckRequest{Service: "allowed"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("unary: %v, want PERMISSION_DENIED", err)
	}
	s, err := e.client.Watch(as("alice"), &healthpb.HealthCheckRequest{Service: "allowed"})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("stream: %v, want PERMISSION_DENIED", err)
	}
}

func TestBodyLimitsAndHeaders(t *testing.T) {
	ic := interceptors(t, authz.WithMaxBodyBytes(20), authz.WithHeaders("x-tenant"),
		authz.WithRoute(check, authz.Allow("tenant header", `request.body.service != "" && request.header("X-Tenant") == principal.tenant`)))
	e := start(t, ic)
	ctx := metadata.AppendToOutgoingContext(as("bob"), "x-tenant", "green")
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{Service: "a"}); status.Code(err) != codes.NotFound {
		t.Fatalf("allowed call: %v, want NOT_FOUND from the service", err)
	}
	<-e.seen
	if _, err := e.client.Check(as("bob"), &healthpb.HealthCheckRequest{Service: "a"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("without the header: %v, want PERMISSION_DENIED", err)
	}
	if _, err := e.client.Check(ctx, &healthpb.HealthCheckRequest{Service: "a-long-service-name"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("body over the limit: %v, want INVALID_ARGUMENT", err)
	}
}
