package ratelimitgrpc

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/paved-go/paved/ratelimit"
)

// KeyFunc returns the key of the bucket a call draws from. A KeyFunc that
// fails or returns "" gets the interceptor's missing-key treatment:
// INVALID_ARGUMENT with ratelimit.ErrNoKey, or the shared bucket of
// WithAnonymousKey. Keys never appear in logs, metrics or errors.
type KeyFunc func(ctx context.Context, fullMethod string) (string, error)

// APIKeyMetadata is the metadata key APIKey reads first.
const APIKeyMetadata = "x-api-key"

var errNoPeer = errors.New("ratelimitgrpc: the call's peer has no IP address")

// PeerIP is a KeyFunc that keys calls by the IP address of the
// connection's peer, IPv4 addresses as is and IPv6 addresses by their /64
// network. Behind proxies use ClientIP.
func PeerIP(ctx context.Context, _ string) (string, error) {
	a, ok := peerAddr(ctx)
	if !ok {
		return "", errNoPeer
	}
	return addrKey(a), nil
}

// ClientIP returns a KeyFunc that keys calls by the client's address as p
// finds it: the peer's, or, when the peer is one of p's trusted proxies,
// the right-most untrusted address of the metadata p.Header names
// (x-forwarded-for, forwarded or x-real-ip), as ratelimit.Proxies does for
// HTTP requests.
func ClientIP(p ratelimit.Proxies) KeyFunc {
	name := strings.ToLower(p.Header.String())
	return func(ctx context.Context, _ string) (string, error) {
		a, ok := peerAddr(ctx)
		if !ok {
			return "", errNoPeer
		}
		if len(p.Trusted) > 0 {
			a = p.Client(a, metadata.ValueFromIncomingContext(ctx, name))
		}
		return addrKey(a), nil
	}
}

func peerAddr(ctx context.Context) (netip.Addr, bool) {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return netip.Addr{}, false
	}
	if tcp, ok := pr.Addr.(*net.TCPAddr); ok {
		a := tcp.AddrPort().Addr().Unmap().WithZone("")
		return a, a.IsValid()
	}
	ap, err := netip.ParseAddrPort(pr.Addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}

func addrKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// Metadata returns a KeyFunc that keys calls by the first value of the
// named incoming metadata; a call without it has no key.
func Metadata(name string) KeyFunc {
	name = strings.ToLower(name)
	return func(ctx context.Context, _ string) (string, error) {
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
func APIKey(ctx context.Context, _ string) (string, error) {
	if v := metadata.ValueFromIncomingContext(ctx, APIKeyMetadata); len(v) > 0 && v[0] != "" {
		return v[0], nil
	}
	if v := metadata.ValueFromIncomingContext(ctx, "authorization"); len(v) > 0 {
		const scheme = "bearer "
		if len(v[0]) > len(scheme) && strings.EqualFold(v[0][:len(scheme)], scheme) {
			return strings.TrimSpace(v[0][len(scheme):]), nil
		}
	}
	return "", nil
}

// Method keys calls by their full method name, for a policy that gives
// each method its own bucket; compose it with Join to key by method and
// caller.
func Method(_ context.Context, fullMethod string) (string, error) { return fullMethod, nil }

// Principal keys calls by the authenticated principal that id finds in
// the call's context; a call without one has no key.
func Principal(id func(ctx context.Context) (string, bool)) KeyFunc {
	return func(ctx context.Context, _ string) (string, error) {
		p, ok := id(ctx)
		if !ok {
			return "", nil
		}
		return p, nil
	}
}

// Join returns a KeyFunc whose key combines the keys of fns, separated by
// a NUL byte. If any part fails or is empty, the call has no key.
func Join(fns ...KeyFunc) KeyFunc {
	fns = append([]KeyFunc(nil), fns...)
	return func(ctx context.Context, fullMethod string) (string, error) {
		var buf [4]string
		parts := buf[:0]
		for _, fn := range fns {
			k, err := fn(ctx, fullMethod)
			if err != nil || k == "" {
				return "", err
			}
			parts = append(parts, k)
		}
		return strings.Join(parts, "\x00"), nil
	}
}
