package pavedgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/pavedgrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// slowDown is a user's own error joining the vocabulary by the method
// contract.
type slowDown struct{ wait time.Duration }

func (e slowDown) Error() string             { return "orders: slow down" }
func (e slowDown) HTTPStatus() int           { return http.StatusTooManyRequests }
func (e slowDown) RetryDelay() time.Duration { return e.wait }

var errShipped = paved.NewError(http.StatusConflict, "orders: already shipped")

func TestStatus(t *testing.T) {
	const secret = "token=s3cret"
	tests := []struct {
		name      string
		err       error
		wantCode  codes.Code
		wantMsg   string
		wantDelay time.Duration // 0: no RetryInfo
	}{
		{"nil", nil, codes.OK, "", 0},
		{"NewError", errShipped, codes.Aborted, "orders: already shipped", 0},
		{"wrapped NewError", fmt.Errorf("cancel at db-3 %s: %w", secret, errShipped), codes.Aborted, "orders: already shipped", 0},
		{"denied", paved.NewError(403, "authz: denied"), codes.PermissionDenied, "authz: denied", 0},
		{"unauthenticated", paved.NewError(401, "authz: no credentials"), codes.Unauthenticated, "authz: no credentials", 0},
		{"not found", paved.NewError(404, "orders: no such order"), codes.NotFound, "orders: no such order", 0},
		{"unavailable", paved.NewError(503, "breaker: open"), codes.Unavailable, "breaker: open", 0},
		{"retry delay", fmt.Errorf("x: %w", slowDown{1500 * time.Millisecond}), codes.ResourceExhausted, "orders: slow down", 1500 * time.Millisecond},
		{"deadline", &url.Error{Op: "Get", URL: "http://10.0.0.7/?" + secret, Err: context.DeadlineExceeded}, codes.DeadlineExceeded, "context deadline exceeded", 0},
		{"canceled", fmt.Errorf("read: %w", context.Canceled), codes.Canceled, "context canceled", 0},
		{"body too large", &http.MaxBytesError{Limit: 1}, codes.InvalidArgument, "http: request body too large", 0},
		{"status error kept", status.Error(codes.NotFound, "nope"), codes.NotFound, "nope", 0},
		{"wrapped status error without the wrapping text", fmt.Errorf("call 10.0.0.7 %s: %w", secret, status.Error(codes.AlreadyExists, "exists")), codes.AlreadyExists, "exists", 0},
		{"foreign error hides its text", errors.New("dial 10.0.0.7 " + secret), codes.Unknown, "unknown error", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := pavedgrpc.Status(tc.err)
			if st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Fatalf("Status = %v %q, want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
			if got := pavedgrpc.Code(tc.err); got != tc.wantCode {
				t.Errorf("Code = %v, want %v", got, tc.wantCode)
			}
			if err := pavedgrpc.Error(tc.err); (err == nil) != (tc.err == nil) || status.Code(err) != tc.wantCode {
				t.Errorf("Error = %v", err)
			} else if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("Error echoes the wrapping text: %v", err)
			}
			if got := retryDelay(st); got != tc.wantDelay {
				t.Errorf("RetryInfo delay %v, want %v", got, tc.wantDelay)
			}
		})
	}
}

func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// TestServerError calls a real gRPC server whose handlers answer with a
// user's error and checks what the client sees: code, message, RetryInfo
// and the pushback trailer, for unary and streaming calls.
func TestServerError(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return nil, pavedgrpc.ServerError(ctx, fmt.Errorf("wrapped: %w", slowDown{1500 * time.Microsecond}))
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return pavedgrpc.ServerError(ss.Context(), slowDown{2 * time.Second})
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	check := func(t *testing.T, err error, trailer metadata.MD, wantDelay time.Duration, wantPushback string) {
		t.Helper()
		st := status.Convert(err)
		if st.Code() != codes.ResourceExhausted || st.Message() != "orders: slow down" || retryDelay(st) != wantDelay {
			t.Fatalf("client got %v %q, RetryInfo %v", st.Code(), st.Message(), retryDelay(st))
		}
		if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != wantPushback {
			t.Fatalf("pushback trailer %q, want [%s]", got, wantPushback)
		}
	}
	t.Run("unary", func(t *testing.T) {
		var trailer metadata.MD
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		check(t, err, trailer, 1500*time.Microsecond, "2")
	})
	t.Run("stream", func(t *testing.T) {
		stream, err := client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		check(t, err, stream.Trailer(), 2*time.Second, "2000")
	})
}

func TestServerErrorOutsideACall(t *testing.T) {
	// Outside a gRPC call there is no trailer to set; the error is
	// converted all the same.
	if err := pavedgrpc.ServerError(context.Background(), errShipped); status.Code(err) != codes.Aborted {
		t.Fatalf("ServerError = %v", err)
	}
	if err := pavedgrpc.ServerError(context.Background(), slowDown{time.Second}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("ServerError outside a call = %v", err)
	}
}

// TestErrorIsNeverOK: an error declaring a status that is not a 4xx or 5xx
// code is Internal, as WriteError answers it 500; mapped to OK it would
// become a nil error, a failure turned into a success.
func TestErrorIsNeverOK(t *testing.T) {
	for _, status := range []int{0, http.StatusOK, http.StatusNoContent, http.StatusFound} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			perr := paved.NewError(status, "orders: odd")
			if got := pavedgrpc.Code(perr); got != codes.Internal {
				t.Errorf("Code = %v, want Internal", got)
			}
			if err := pavedgrpc.Error(perr); status2code(err) != codes.Internal {
				t.Errorf("Error = %v, want an Internal status", err)
			}
		})
	}
}

func status2code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	return status.Code(err)
}

// TestDoNotRetryPushback: a negative retry delay ("do not retry") reaches
// the client as grpc-retry-pushback-ms -1, which gRPC's retry design (A6)
// reads as "do not retry", and without a RetryInfo detail; a pushback of
// 1 ms or a zero RetryInfo would tell it to retry at once.
func TestDoNotRetryPushback(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return nil, pavedgrpc.ServerError(ctx, slowDown{-time.Second})
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var trailer metadata.MD
	_, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 0 {
		t.Fatalf("client got %v with details %v, want ResourceExhausted without RetryInfo", st.Code(), st.Details())
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "-1" {
		t.Fatalf("pushback trailer %q, want [-1]", got)
	}
}
