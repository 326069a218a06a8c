package ratelimitgrpc

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/paved-go/paved/ratelimit"
)

// KeyFunc returns the key of the bucket a call draws from; the call's
// full method is grpc.Method(ctx). A KeyFunc that fails or returns "" gets
// the interceptor's missing-key treatment: INVALID_ARGUMENT with
// ratelimit.ErrNoKey, or the shared bucket of WithAnonymousKey. Keys never
// appear in logs, metrics or errors. ratelimit.Join composes KeyFuncs:
// ratelimit.Join(Method, APIKey) keys by method and API key.
type KeyFunc func(ctx context.Context) (string, error)

// APIKeyMetadata is the metadata key APIKey reads first.
const APIKeyMetadata = "x-api-key"

// PeerIP is a KeyFunc that keys calls by the IP address of the
// connection's peer, as ratelimit.AddrKey makes the key: IPv4 addresses as
// is, IPv6 addresses by their /64 network, and ratelimit.LocalKey for a
// peer without an IP address (a Unix socket, an in-process listener such
// as a bufconn), whose callers share one bucket. Behind proxies use
// ClientIP. It never fails.
func PeerIP(ctx context.Context) (string, error) {
	return ratelimit.AddrKey(peerAddr(ctx)), nil
}

// ClientIP returns a KeyFunc that keys calls by the client's address as p
// finds it: the peer's, or, when the peer is one of p's trusted proxies
// (or local, with no IP address, while p trusts any network), the
// right-most untrusted address of the metadata p.Header names
// (x-forwarded-for, forwarded or x-real-ip), with the rules of
// ratelimit.Proxies for HTTP requests.
func ClientIP(p ratelimit.Proxies) KeyFunc {
	name := strings.ToLower(p.Header.String())
	return func(ctx context.Context) (string, error) {
		a := peerAddr(ctx)
		if len(p.Trusted) > 0 {
			a = p.Client(a, metadata.ValueFromIncomingContext(ctx, name))
		}
		return ratelimit.AddrKey(a), nil
	}
}

// peerAddr returns the IP address of the call's peer, or the invalid Addr
// when it has none.
func peerAddr(ctx context.Context) netip.Addr {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return netip.Addr{}
	}
	if tcp, ok := pr.Addr.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr()
	}
	ap, err := netip.ParseAddrPort(pr.Addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// Metadata returns a KeyFunc that keys calls by the first value of the
// named incoming metadata; a call without it has no key.
func Metadata(name string) KeyFunc {
	name = strings.ToLower(name)
	return func(ctx context.Context) (string, error) {
		if v := metadata.ValueFromIncomingContext(ctx, name); len(v) > 0 {
			return v[0], nil
		}
		return "", nil
	}
}

// APIKey keys calls by the API key they present: the x-api-key metadata,
// else the token of an "authorization: Bearer" entry; a call with neither
// has no key. As with ratelimit.APIKey, the key is taken as given: put
// authentication first, or pair it with a per-address policy.
func APIKey(ctx context.Context) (string, error) {
	if v := metadata.ValueFromIncomingContext(ctx, APIKeyMetadata); len(v) > 0 && v[0] != "" {
		return v[0], nil
	}
	if v := metadata.ValueFromIncomingContext(ctx, "authorization"); len(v) > 0 {
		return ratelimit.BearerToken(v[0]), nil
	}
	return "", nil
}

// Method keys calls by their full method name (grpc.Method), for a policy
// that gives each method its own bucket; compose it with ratelimit.Join to
// key by method and caller. A context without a method has no key.
func Method(ctx context.Context) (string, error) {
	m, _ := grpc.Method(ctx)
	return m, nil
}

// Principal keys calls by the authenticated principal that id finds in
// the call's context; a call without one has no key. A nil id finds no
// principal, rather than panicking at the first call.
func Principal(id func(ctx context.Context) (string, bool)) KeyFunc {
	if id == nil {
		return noKey
	}
	return func(ctx context.Context) (string, error) {
		if p, ok := id(ctx); ok {
			return p, nil
		}
		return "", nil
	}
}

func noKey(context.Context) (string, error) { return "", nil }
