package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
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

	"github.com/paved-go/paved/internal/grpcx"
	"github.com/paved-go/paved/internal/httpx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type limitErr struct{ d time.Duration }

func (e limitErr) Error() string             { return "test: limited" }
func (e limitErr) HTTPStatus() int           { return http.StatusTooManyRequests }
func (e limitErr) RetryDelay() time.Duration { return e.d }

var (
	errOpen   = httpx.NewError(http.StatusServiceUnavailable, "test: open")
	errDenied = httpx.NewError(http.StatusForbidden, "test: denied")
	errAuth   = httpx.NewError(http.StatusUnauthorized, "test: unauthenticated")
	errInput  = httpx.NewError(http.StatusBadRequest, "test: bad input")
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"open", errOpen, codes.Unavailable},
		{"limited", fmt.Errorf("call: %w", limitErr{}), codes.ResourceExhausted},
		{"denied", errDenied, codes.PermissionDenied},
		{"unauthenticated", errAuth, codes.Unauthenticated},
		{"bad input", errInput, codes.InvalidArgument},
		{"body too large", &http.MaxBytesError{Limit: 1}, codes.InvalidArgument},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), codes.Canceled},
		{"status error kept", status.Error(codes.NotFound, "nope"), codes.NotFound},
		{"foreign", errors.New("boom"), codes.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := grpcx.Code(tc.err); got != tc.want {
				t.Fatalf("Code = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHTTPCodeRoundTrip(t *testing.T) {
	// Every code that google.rpc.Code pairs one-to-one with an HTTP
	// status survives the trip.
	for _, c := range []codes.Code{
		codes.OK, codes.Canceled, codes.InvalidArgument, codes.DeadlineExceeded,
		codes.NotFound, codes.PermissionDenied, codes.Unauthenticated,
		codes.ResourceExhausted, codes.Unimplemented, codes.Unavailable, codes.Internal,
	} {
		if got := grpcx.CodeFromHTTP(grpcx.HTTPFromCode(c)); got != c {
			t.Errorf("%v -> %d -> %v", c, grpcx.HTTPFromCode(c), got)
		}
	}
}

func TestErrorKeepsForeignAndStatusErrors(t *testing.T) {
	foreign := errors.New("boom")
	if grpcx.Error(foreign) != foreign {
		t.Error("a foreign error was rewritten")
	}
	st := status.Error(codes.Aborted, "x")
	if grpcx.Error(st) != st {
		t.Error("a status error was rewritten")
	}
	if grpcx.Error(nil) != nil {
		t.Error("nil became an error")
	}
}

// TestServerError calls a real gRPC server whose interceptor rejects with
// a retry delay and checks what the client sees: code, message, the
// RetryInfo detail and the pushback trailer, for unary and streaming calls.
func TestServerError(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return nil, grpcx.ServerError(ctx, fmt.Errorf("wrapped: %w", limitErr{1500 * time.Microsecond}))
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return grpcx.StreamServerError(ss, limitErr{2 * time.Second})
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

	t.Run("unary", func(t *testing.T) {
		var trailer metadata.MD
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		checkLimited(t, err, "test: limited", 1500*time.Microsecond)
		if got := trailer.Get(grpcx.RetryPushbackKey); len(got) != 1 || got[0] != "2" {
			t.Errorf("pushback trailer = %q, want [2]", got)
		}
	})
	t.Run("stream", func(t *testing.T) {
		stream, err := client.Watch(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		checkLimited(t, err, "test: limited", 2*time.Second)
		if got := stream.Trailer().Get(grpcx.RetryPushbackKey); len(got) != 1 || got[0] != "2000" {
			t.Errorf("pushback trailer = %q, want [2000]", got)
		}
	})
}

func checkLimited(t *testing.T, err error, msg string, delay time.Duration) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted || st.Message() != msg {
		t.Fatalf("err = %v, want ResourceExhausted %q", err, msg)
	}
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	if info == nil || info.GetRetryDelay().AsDuration() != delay {
		t.Fatalf("RetryInfo = %v, want %v", info, delay)
	}
}

func TestPushbackValue(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Microsecond: "1", time.Millisecond: "1", 1500 * time.Microsecond: "2", time.Second: "1000"} {
		if got := grpcx.PushbackValue(d); got != want {
			t.Errorf("PushbackValue(%v) = %s, want %s", d, got, want)
		}
	}
}

// TestErrorMessageNeverCarriesWrappingText checks that the status message
// a client gets is the project's (or the context's) own, not the text
// foreign code wrapped around it, which may name internal URLs.
func TestErrorMessageNeverCarriesWrappingText(t *testing.T) {
	const secret = "token=s3cret"
	tests := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"url error wrapping a deadline", &url.Error{Op: "Get", URL: "http://10.0.0.7/x?" + secret, Err: context.DeadlineExceeded}, codes.DeadlineExceeded, "context deadline exceeded"},
		{"project error wrapped by foreign text", fmt.Errorf("GET /x?%s: %w", secret, errDenied), codes.PermissionDenied, "test: denied"},
		{"project error beside a transport error", errors.Join(errors.New("dial tcp 10.0.0.7:5432 "+secret), limitErr{time.Second}), codes.ResourceExhausted, "test: limited"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := status.Convert(grpcx.Error(tc.err))
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("status %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// TestPushback reads grpc-retry-pushback-ms as gRPC's retry design (A6)
// says: a non-negative integer is the delay in milliseconds; a negative or
// malformed value means "do not retry"; beyond time.Duration saturates.
func TestPushback(t *testing.T) {
	const never = time.Duration(math.MaxInt64)
	tests := []struct {
		name   string
		md     metadata.MD
		want   time.Duration
		wantOK bool
	}{
		{"none", metadata.MD{}, 0, false},
		{"nil trailer", nil, 0, false},
		{"milliseconds", metadata.Pairs(grpcx.RetryPushbackKey, "1500"), 1500 * time.Millisecond, true},
		{"zero", metadata.Pairs(grpcx.RetryPushbackKey, "0"), 0, true},
		{"negative says stop", metadata.Pairs(grpcx.RetryPushbackKey, "-1"), -1, true},
		{"malformed says stop", metadata.Pairs(grpcx.RetryPushbackKey, "soon"), -1, true},
		{"empty says stop", metadata.Pairs(grpcx.RetryPushbackKey, ""), -1, true},
		// 18446744073710 ms overflows to 0.45 ms when multiplied naively.
		{"beyond a Duration saturates", metadata.Pairs(grpcx.RetryPushbackKey, "18446744073710"), never, true},
		{"beyond an int64 saturates", metadata.Pairs(grpcx.RetryPushbackKey, "99999999999999999999"), never, true},
		{"first value counts", metadata.Pairs(grpcx.RetryPushbackKey, "5", grpcx.RetryPushbackKey, "-1"), 5 * time.Millisecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := grpcx.Pushback(tc.md)
			if d != tc.want || ok != tc.wantOK {
				t.Fatalf("Pushback = %v, %v; want %v, %v", d, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestRetryInfoDelayReadsWhatErrorWrites: the RetryInfo detail Error
// attaches is the one RetryInfoDelay reads.
func TestRetryInfoDelayReadsWhatErrorWrites(t *testing.T) {
	if d, ok := grpcx.RetryInfoDelay(status.Convert(grpcx.Error(limitErr{3 * time.Second}))); !ok || d != 3*time.Second {
		t.Fatalf("RetryInfoDelay = %v, %v; want 3s", d, ok)
	}
	if d, ok := grpcx.RetryInfoDelay(status.New(codes.Unavailable, "down")); ok {
		t.Fatalf("RetryInfoDelay of a status without details = %v, true", d)
	}
}

func TestStatusError(t *testing.T) {
	st := status.Error(codes.Unavailable, "down")
	foreign := errors.New("foreign")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"status error", st, st},
		{"wrapped status error", fmt.Errorf("retry: 3 attempts: %w", st), st},
		{"joined", errors.Join(foreign, st), st},
		{"foreign", foreign, foreign},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := grpcx.StatusError(tc.err); got != tc.want {
				t.Fatalf("StatusError = %v, want %v", got, tc.want)
			}
		})
	}
}
