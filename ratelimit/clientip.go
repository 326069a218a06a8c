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
	errNoPeer      = errors.New("ratelimit: the request's peer has no IP address and no trusted proxy named the client")
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
//
// A peer without an IP address (a Unix socket, an in-process listener) is
// on the same host as the server: when Trusted names any network it is
// trusted too, as the local proxy such a socket usually serves, and its
// header is read; with nothing to read, the request is keyed LocalKey.
type Proxies struct {
	// Trusted lists the networks of the proxies, such as the load
	// balancer's subnet.
	Trusted []netip.Prefix
	// Header is the header the proxies set (default XForwardedFor).
	Header ProxyHeader
}

// LocalKey is the key ClientIP gives a request whose peer has no IP
// address: a server on a Unix socket ("@" or a path in RemoteAddr) or
// behind an in-process listener ("" or a pipe's name). Every such caller
// shares its bucket, unless trusted proxies report the client (see
// Proxies).
const LocalKey = "local"

// ClientIP is a KeyFunc that keys requests by the address of the
// connection's peer (RemoteAddr), ignoring forwarding headers: the right
// choice when clients connect directly. Behind proxies use
// Proxies.ClientIP. IPv4 clients are keyed by address; IPv6 clients by
// their /64 network, since one subscriber usually holds a whole /64. A
// peer without an IP address is keyed LocalKey. ClientIP never fails.
func ClientIP(r *http.Request) (string, error) {
	peer, text, ok := parseHost(r.RemoteAddr)
	if !ok {
		return LocalKey, nil
	}
	return addrKey(peer, text), nil
}

// ClientIP is a KeyFunc that keys requests by the client's address as p
// finds it (see ClientAddr), as AddrKey makes the key: IPv4 clients by
// address, IPv6 clients by their /64 network, LocalKey for a local peer
// whose proxies reported no client. The key of an IPv4 client costs no
// allocation. It fails only when p trusts proxies but its Header is none
// of the ProxyHeader constants.
func (p Proxies) ClientIP(r *http.Request) (string, error) {
	a, text, err := p.clientAddr(r)
	if err == errNoPeer {
		return LocalKey, nil
	}
	if err != nil {
		return "", err
	}
	return addrKey(a, text), nil
}

// ClientAddr returns the address of the client that sent r: RemoteAddr's,
// or the one trusted proxies report (see Proxies). A peer without an IP
// address (a Unix socket, an in-process listener) is on the same host:
// when p trusts any network it is trusted too, as the local proxy such a
// socket usually serves, and its header is read. ClientAddr fails when no
// client address is found that way, and when p trusts proxies but its
// Header is none of the ProxyHeader constants.
func (p Proxies) ClientAddr(r *http.Request) (netip.Addr, error) {
	a, _, err := p.clientAddr(r)
	return a, err
}

// Client returns the client's address given the address of the peer that
// sent a request and the values of p.Header that the request carried, in
// order, for transports other than net/http (gRPC metadata, say). A peer
// that is not a valid address is local, and trusted when p trusts any
// network, as in ClientAddr; the result is then not valid when the
// values name no client. With an unknown Header it returns the peer.
func (p Proxies) Client(peer netip.Addr, values []string) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if int(p.Header) >= len(proxyHeaders) || len(p.Trusted) == 0 {
		return peer
	}
	a, _ := p.client(peer, "", values)
	return a
}

func (p Proxies) clientAddr(r *http.Request) (netip.Addr, string, error) {
	peer, text, ok := parseHost(r.RemoteAddr)
	if len(p.Trusted) == 0 {
		if !ok {
			return netip.Addr{}, "", errNoPeer
		}
		return peer, text, nil
	}
	if int(p.Header) >= len(proxyHeaders) {
		return netip.Addr{}, "", errProxyHeader
	}
	a, text := p.client(peer, text, r.Header[proxyHeaders[p.Header]])
	if !a.IsValid() {
		return netip.Addr{}, "", errNoPeer
	}
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

// client walks the hops the header lists from the right, past every
// trusted one (an invalid peer is a local one, and trusted): the answer is the first untrusted hop, or the trusted hop
// (or peer) just right of an unreadable one, or the left-most hop when all
// are trusted. Walking from the right reads only what the trusted proxies
// wrote, up to the client's own address: a client can put anything on the
// left of a header (an unbalanced quote, say), and it must not change how
// the elements the proxies appended are read.
func (p Proxies) client(peer netip.Addr, peerText string, values []string) (netip.Addr, string) {
	if peer.IsValid() && !p.trusts(peer) {
		return peer, peerText
	}
	last, lastText := peer, peerText // the left-most trusted hop so far
	for i := len(values) - 1; i >= 0; i-- {
		for rest := values[i]; rest != ""; {
			var (
				hop      string
				readable = true
			)
			if p.Header == Forwarded {
				var elem string
				var empty bool
				rest, elem = lastForwardedElement(rest)
				if hop, readable, empty = forwardedFor(elem); empty {
					continue
				}
			} else if rest, hop = lastListItem(rest); hop == "" {
				continue
			}
			var a netip.Addr
			var text string
			if readable {
				a, text, readable = parseHost(hop)
			}
			if !readable {
				return last, lastText
			}
			if !p.trusts(a) {
				return a, text
			}
			last, lastText = a, text
		}
	}
	return last, lastText
}

// lastListItem splits a comma-separated list into what precedes its last
// item and that item, trimmed.
func lastListItem(v string) (rest, item string) {
	i := strings.LastIndexByte(v, ',')
	if i < 0 {
		return "", strings.TrimSpace(v)
	}
	return v[:i], strings.TrimSpace(v[i+1:])
}

// lastForwardedElement splits a Forwarded header value (RFC 7239) into
// what precedes its last element and that element: the text after the
// last comma that is not inside a quoted string. It scans from the right,
// so the elements proxies appended are found whatever a client wrote to
// their left; when the scan ends inside quotes, what is left is one
// malformed element.
func lastForwardedElement(v string) (rest, elem string) {
	quoted := false
	for i := len(v) - 1; i >= 0; i-- {
		switch v[i] {
		case '"':
			if !quoted {
				quoted = true
			} else if !escaped(v, i) {
				quoted = false
			}
		case ',':
			if !quoted {
				return v[:i], v[i+1:]
			}
		}
	}
	return "", v
}

// escaped reports whether v[i] follows an odd number of backslashes.
func escaped(v string, i int) bool {
	n := 0
	for i > 0 && v[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// forwardedFor returns the for= value of one element of a Forwarded
// header, unquoted, whether the element was readable, and whether it was
// empty (an empty list item, which is no hop). An element without for=,
// with two of them, or with a quoted value that uses escapes or is not
// terminated is unreadable. Parsing never fails; a malformed element is
// one unreadable hop.
func forwardedFor(elem string) (forValue string, ok, empty bool) {
	var hasFor, bad bool
	empty = true
	for i := 0; i < len(elem); {
		switch elem[i] {
		case ';', ' ', '\t':
			i++
			continue
		case ',': // left in a malformed element only
			bad = true
			i++
			continue
		}
		empty = false
		start := i
		for i < len(elem) && elem[i] != '=' && elem[i] != ';' && elem[i] != ',' {
			i++
		}
		name := strings.TrimSpace(elem[start:i])
		if i >= len(elem) || elem[i] != '=' {
			bad = true // a pair without a value
			continue
		}
		i++ // '='
		var value string
		if i < len(elem) && elem[i] == '"' {
			j := i + 1
			for j < len(elem) && elem[j] != '"' {
				if elem[j] == '\\' {
					bad = true // escapes are legal but never needed for an address
					j++
				}
				j++
			}
			if j >= len(elem) {
				bad = true // unterminated
				break
			}
			value = elem[i+1 : j]
			i = j + 1
		} else {
			start := i
			for i < len(elem) && elem[i] != ';' && elem[i] != ',' {
				i++
			}
			value = strings.TrimSpace(elem[start:i])
		}
		if strings.EqualFold(name, "for") {
			if hasFor {
				bad = true // a second for= makes the element ambiguous
			}
			forValue, hasFor = value, true
		}
	}
	return forValue, hasFor && !bad, empty
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
	colon := strings.IndexByte(s, ':')
	// The common case, an IPv4 peer with a port, parsed by hand: through
	// netip it cost a fifth of a keyed decision.
	if colon < 0 {
		if a, ok := parseIPv4(s); ok {
			return a, s, true
		}
	} else if a, ok := parseIPv4(s[:colon]); ok && isPort(s[colon+1:]) {
		return a, s[:colon], true
	}
	switch {
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

// AddrKey returns the bucket key ClientIP gives a client address: an IPv4
// address (or IPv4-mapped IPv6 address) as is, an IPv6 address as its /64
// network ("2001:db8:1:2::/64"), and the invalid Addr, a peer without an
// address, LocalKey. Adapters for other transports key their callers with
// it so that one caller has one key everywhere.
func AddrKey(a netip.Addr) string {
	if !a.IsValid() {
		return LocalKey
	}
	return addrKey(a.Unmap().WithZone(""), "")
}

// parseIPv4 parses s if it is an IPv4 address in the canonical dotted
// decimal form, the only one netip.ParseAddr accepts (no leading zeros),
// and reports false for anything else, which is then left to netip.
func parseIPv4(s string) (netip.Addr, bool) {
	var b [4]byte
	field, digits, v := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && v == 0 { // a leading zero
				return netip.Addr{}, false
			}
			v = v*10 + int(c-'0')
			digits++
			if v > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			b[field] = byte(v)
			field, digits, v = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	b[3] = byte(v)
	return netip.AddrFrom4(b), true
}

// isPort reports whether s is a port netip.ParseAddrPort accepts: 1 to 5
// decimal digits, at most 65535.
func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v <= 65535
}

// addrKey returns the bucket key of a client address: IPv4 addresses as
// is, IPv6 addresses as their /64 network. text is a's canonical form
// when the caller has it, which saves formatting it.
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
