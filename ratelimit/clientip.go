package ratelimit

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// ProxyHeader names the header trusted proxies report the client's address
// in.
type ProxyHeader uint8

const (
	// XForwardedFor is X-Forwarded-For, a comma-separated list to which each
	// proxy appends the address it received the request from. It is what
	// nginx, Envoy, HAProxy and the cloud load balancers set.
	XForwardedFor ProxyHeader = iota
	// Forwarded is the standard Forwarded header (RFC 7239); its for=
	// parameters are read.
	Forwarded
	// XRealIP is X-Real-IP, a single address set by the proxy.
	XRealIP
)

var proxyHeaders = [...]string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// String returns the header's canonical name.
func (h ProxyHeader) String() string {
	if int(h) < len(proxyHeaders) {
		return proxyHeaders[h]
	}
	return "ProxyHeader(" + strconv.Itoa(int(h)) + ")"
}

var (
	errNoPeer      = errors.New("ratelimit: RemoteAddr is not an IP address")
	errProxyHeader = errors.New("ratelimit: unknown ProxyHeader")
)

// Proxies describes the reverse proxies in front of a server: which peers
// are trusted to report the client's address, and the header they report
// it in. The zero value trusts no one: the client is the connection's peer.
//
// Only the named header is read, and only when the request came straight
// from a trusted peer. Its list of addresses is read from the right, past
// every trusted proxy, to the right-most address that is not trusted: the
// client as the outermost trusted proxy saw it. Addresses further left and
// every other forwarding header were sent by the client and could be
// forged, so they are ignored. When every address is trusted the
// left-most one is the client; when the client's entry is not an address
// ("unknown", an obfuscated name), the proxy that reported it is used.
type Proxies struct {
	// Trusted lists the networks of the proxies, such as the load
	// balancer's subnet.
	Trusted []netip.Prefix
	// Header is the header the proxies set (default XForwardedFor).
	Header ProxyHeader
}

// ClientIP is a KeyFunc that keys requests by the address of the
// connection's peer (RemoteAddr), ignoring forwarding headers: the right
// choice when clients connect directly. Behind proxies use
// Proxies.ClientIP. IPv4 clients are keyed by address; IPv6 clients by
// their /64 network, since one subscriber usually holds a whole /64.
func ClientIP(r *http.Request) (string, error) { return Proxies{}.ClientIP(r) }

// ClientIP is a KeyFunc that keys requests by the client's address as p
// finds it (see ClientAddr): IPv4 clients by address, IPv6 clients by
// their /64 network. The key of an IPv4 client costs no allocation.
func (p Proxies) ClientIP(r *http.Request) (string, error) {
	a, text, err := p.clientAddr(r)
	if err != nil {
		return "", err
	}
	return addrKey(a, text), nil
}

// ClientAddr returns the address of the client that sent r: RemoteAddr's,
// or the one trusted proxies report (see Proxies). It fails only when
// RemoteAddr is not an IP address (a Unix socket).
func (p Proxies) ClientAddr(r *http.Request) (netip.Addr, error) {
	a, _, err := p.clientAddr(r)
	return a, err
}

// Client returns the client's address given the address of the peer that
// sent a request and the values of p.Header that the request carried, in
// order, for transports other than net/http (gRPC metadata, say). With an
// unknown Header it returns the peer.
func (p Proxies) Client(peer netip.Addr, values []string) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if int(p.Header) >= len(proxyHeaders) {
		return peer
	}
	a, _ := p.client(peer, "", values)
	return a
}

func (p Proxies) clientAddr(r *http.Request) (netip.Addr, string, error) {
	peer, text, ok := parseHost(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, "", errNoPeer
	}
	if len(p.Trusted) == 0 {
		return peer, text, nil
	}
	if int(p.Header) >= len(proxyHeaders) {
		return netip.Addr{}, "", errProxyHeader
	}
	a, text := p.client(peer, text, r.Header[proxyHeaders[p.Header]])
	return a, text, nil
}

func (p Proxies) trusts(a netip.Addr) bool {
	for _, n := range p.Trusted {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// client walks the hops the header lists, left to right, remembering the
// answer a walk from the right would give: the right-most untrusted hop,
// or the trusted hop just right of an unreadable one, or the left-most hop
// when all are trusted.
func (p Proxies) client(peer netip.Addr, peerText string, values []string) (netip.Addr, string) {
	if !p.trusts(peer) {
		return peer, peerText
	}
	const (
		allTrusted = iota // every hop so far is trusted: the answer is first
		found             // the answer is cand
		unreadable        // the last hop could not be read: the answer is the next hop, or the peer
	)
	var (
		state     = allTrusted
		cand      netip.Addr
		candText  string
		first     netip.Addr
		firstText string
		seen      bool
	)
	visit := func(hop string, ok bool) {
		var a netip.Addr
		var text string
		if ok {
			a, text, ok = parseHost(hop)
		}
		if !seen {
			seen = true
			first, firstText = a, text
		}
		switch {
		case !ok:
			state = unreadable
		case !p.trusts(a), state == unreadable:
			state, cand, candText = found, a, text
		}
	}
	for _, v := range values {
		if p.Header == Forwarded {
			forEachForwardedFor(v, visit)
		} else {
			forEachListItem(v, func(hop string) { visit(hop, true) })
		}
	}
	switch {
	case state == found:
		return cand, candText
	case state == allTrusted && seen:
		return first, firstText
	}
	return peer, peerText
}

// forEachListItem calls fn with each non-empty, trimmed item of a
// comma-separated list.
func forEachListItem(v string, fn func(string)) {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			fn(item)
		}
	}
}

// forEachForwardedFor calls fn with the for= value of each element of a
// Forwarded header value (RFC 7239), unquoted, and whether the element was
// readable: an element without for=, or with a quoted value that uses
// escapes, reports false. Parsing never fails; a malformed element is one
// unreadable hop.
func forEachForwardedFor(v string, fn func(value string, ok bool)) {
	for i := 0; i < len(v); {
		var (
			forValue string
			hasFor   bool
			bad      bool
			empty    = true
		)
		// One element: pairs separated by ';' up to a ',' outside quotes.
		for i < len(v) && v[i] != ',' {
			if v[i] == ';' || v[i] == ' ' || v[i] == '\t' {
				i++
				continue
			}
			empty = false
			start := i
			for i < len(v) && v[i] != '=' && v[i] != ';' && v[i] != ',' {
				i++
			}
			name := strings.TrimSpace(v[start:i])
			if i >= len(v) || v[i] != '=' {
				bad = true // a pair without a value
				continue
			}
			i++ // '='
			var value string
			if i < len(v) && v[i] == '"' {
				j := i + 1
				for j < len(v) && v[j] != '"' {
					if v[j] == '\\' {
						bad = true // escapes are legal but never needed for an address
						j++
					}
					j++
				}
				if j >= len(v) {
					bad = true // unterminated: the rest of the value is this element
					i = len(v)
					break
				}
				value = v[i+1 : j]
				i = j + 1
			} else {
				start := i
				for i < len(v) && v[i] != ';' && v[i] != ',' {
					i++
				}
				value = strings.TrimSpace(v[start:i])
			}
			if strings.EqualFold(name, "for") {
				if hasFor {
					bad = true // a second for= makes the element ambiguous
				}
				forValue, hasFor = value, true
			}
		}
		if i < len(v) {
			i++ // ','
		}
		if !empty {
			fn(forValue, hasFor && !bad)
		}
	}
}

// parseHost parses an address with an optional port: "192.0.2.1",
// "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". It
// looks at the shape of s first so that the usual forms parse without
// allocating. The text it returns is s's address part when that is the
// address's canonical IPv4 form (the only form ParseAddr accepts for
// IPv4), so a key can be that text without formatting it again, and ""
// otherwise.
func parseHost(s string) (netip.Addr, string, bool) {
	var (
		a    netip.Addr
		err  error
		host = s
	)
	switch colon := strings.IndexByte(s, ':'); {
	case strings.HasPrefix(s, "["):
		if strings.HasSuffix(s, "]") {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
		} else {
			var ap netip.AddrPort
			ap, err = netip.ParseAddrPort(s)
			a = ap.Addr()
		}
		if err != nil || !a.Is6() {
			return netip.Addr{}, "", false
		}
	case colon >= 0 && strings.IndexByte(s[colon+1:], ':') < 0: // IPv4 and a port
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a, host = ap.Addr(), s[:colon]
	default: // IPv4, or IPv6 without brackets
		a, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}, "", false
	}
	if a.Is4() {
		return a, host, true
	}
	return a.Unmap().WithZone(""), "", true
}

// addrKey returns the bucket key of a client address: IPv4 addresses as
// is, IPv6 addresses as their /64 network.
func addrKey(a netip.Addr, text string) string {
	if a.Is4() {
		if text != "" {
			return text
		}
		return a.String()
	}
	var buf [48]byte // the longest /64 is "ffff:ffff:ffff:ffff::/64"
	return string(netip.PrefixFrom(a, 64).Masked().AppendTo(buf[:0]))
}
