package ratelimitgrpc_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/ratelimitgrpc"
)

type principalKey struct{}

// stream is the server transport stream of a call to method, which is
// where grpc.Method finds it.
type stream struct{ method string }

func (s stream) Method() string             { return s.method }
func (stream) SetHeader(metadata.MD) error  { return nil }
func (stream) SendHeader(metadata.MD) error { return nil }
func (stream) SetTrailer(metadata.MD) error { return nil }

func TestKeyFuncs(t *testing.T) {
	from := func(addr string, kv ...string) context.Context {
		ctx := context.Background()
		if addr != "" {
			ap := netip.MustParseAddrPort(addr)
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
		}
		if len(kv) > 0 {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(kv...))
		}
		return ctx
	}
	lb := ratelimit.Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		fn       ratelimitgrpc.KeyFunc
		ctx      context.Context
		want     string
		wantErr  bool
		noMethod bool // the context carries no method (not a server call)
	}{
		{name: "peer IPv4", fn: ratelimitgrpc.PeerIP, ctx: from("198.51.100.7:5000"), want: "198.51.100.7"},
		{name: "peer IPv6 by /64", fn: ratelimitgrpc.PeerIP, ctx: from("[2001:db8:1:2::7]:5000"), want: "2001:db8:1:2::/64"},
		{name: "peer IPv4-mapped", fn: ratelimitgrpc.PeerIP, ctx: from("[::ffff:198.51.100.7]:5000"), want: "198.51.100.7"},
		{name: "no peer is local", fn: ratelimitgrpc.PeerIP, ctx: context.Background(), want: ratelimit.LocalKey},
		{name: "unix socket peer is local", fn: ratelimitgrpc.PeerIP, ctx: peer.NewContext(context.Background(), &peer.Peer{Addr: &net.UnixAddr{Name: "@", Net: "unix"}}), want: ratelimit.LocalKey},
		{name: "unix socket peer behind a trusted proxy", fn: ratelimitgrpc.ClientIP(lb), ctx: metadata.NewIncomingContext(peer.NewContext(context.Background(), &peer.Peer{Addr: &net.UnixAddr{Name: "/run/s", Net: "unix"}}), metadata.Pairs("x-forwarded-for", "198.51.100.9")), want: "198.51.100.9"},
		{name: "peer ignores forwarding metadata", fn: ratelimitgrpc.PeerIP, ctx: from("10.0.0.1:1", "x-forwarded-for", "198.51.100.9"), want: "10.0.0.1"},
		{name: "client behind trusted proxy", fn: ratelimitgrpc.ClientIP(lb), ctx: from("10.0.0.1:1", "x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.0.0.2"), want: "198.51.100.9"},
		{name: "forwarding from untrusted peer ignored", fn: ratelimitgrpc.ClientIP(lb), ctx: from("203.0.113.5:1", "x-forwarded-for", "198.51.100.9"), want: "203.0.113.5"},
		{name: "metadata", fn: ratelimitgrpc.Metadata("X-Tenant"), ctx: from("", "x-tenant", "acme"), want: "acme"},
		{name: "metadata missing", fn: ratelimitgrpc.Metadata("x-tenant"), ctx: from(""), want: ""},
		{name: "API key", fn: ratelimitgrpc.APIKey, ctx: from("", "x-api-key", "k1", "authorization", "Bearer t1"), want: "k1"},
		{name: "bearer token", fn: ratelimitgrpc.APIKey, ctx: from("", "authorization", "Bearer t1"), want: "t1"},
		{name: "no API key", fn: ratelimitgrpc.APIKey, ctx: from("", "authorization", "Basic x"), want: ""},
		{name: "method", fn: ratelimitgrpc.Method, ctx: context.Background(), want: "/a.B/C"},
		{name: "no method", fn: ratelimitgrpc.Method, ctx: context.Background(), noMethod: true, want: ""},
		{
			name: "principal",
			fn: ratelimitgrpc.Principal(func(ctx context.Context) (string, bool) {
				id, ok := ctx.Value(principalKey{}).(string)
				return id, ok
			}),
			ctx:  context.WithValue(context.Background(), principalKey{}, "user-7"),
			want: "user-7",
		},
		{name: "nil principal function finds none", fn: ratelimitgrpc.Principal(nil), ctx: context.WithValue(context.Background(), principalKey{}, "user-7"), want: ""},
		{name: "join", fn: ratelimit.Join(ratelimitgrpc.Method, ratelimitgrpc.APIKey), ctx: from("", "x-api-key", "k1"), want: "/a.B/C\x00k1"},
		{name: "join with a missing part", fn: ratelimit.Join(ratelimitgrpc.Method, ratelimitgrpc.APIKey), ctx: from(""), want: ""},
		{
			name:    "join with a failing part",
			fn:      ratelimit.Join(ratelimitgrpc.Method, ratelimitgrpc.KeyFunc(func(context.Context) (string, error) { return "", errBoom })),
			ctx:     context.Background(),
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if !tc.noMethod {
				ctx = grpc.NewContextWithServerTransportStream(ctx, stream{"/a.B/C"})
			}
			got, err := tc.fn(ctx)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("key = %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
