package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/paved-go/paved/ratelimit"
)

var trusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
}

func TestClientAddr(t *testing.T) {
	xff := ratelimit.Proxies{Trusted: trusted}
	fwd := ratelimit.Proxies{Trusted: trusted, Header: ratelimit.Forwarded}
	realIP := ratelimit.Proxies{Trusted: trusted, Header: ratelimit.XRealIP}
	tests := []struct {
		name    string
		proxies ratelimit.Proxies
		remote  string
		header  http.Header
		want    string // the client's address; "" means ClientAddr fails
		wantKey string // "" means the same as want, or LocalKey when want is ""
		keyErr  bool   // ClientIP fails too
	}{
		// Direct connections.
		{name: "IPv4 peer", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "IPv6 peer keyed by /64", remote: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2:3:4:5:6", wantKey: "2001:db8:1:2::/64"},
		{name: "IPv6 peers in one /64 share a key", remote: "[2001:db8:1:2::99]:443", want: "2001:db8:1:2::99", wantKey: "2001:db8:1:2::/64"},
		{name: "IPv6 zone dropped", remote: "[fe80::1%eth0]:80", want: "fe80::1", wantKey: "fe80::/64"},
		{name: "IPv4-mapped IPv6 is IPv4", remote: "[::ffff:198.51.100.1]:80", want: "198.51.100.1"},
		{name: "no port", remote: "198.51.100.1", want: "198.51.100.1"},
		{name: "unix socket", remote: "@", want: ""},
		{name: "unix socket path", remote: "/run/app.sock", want: ""},
		{name: "in-process listener", remote: "", want: ""},
		{name: "pipe", remote: "pipe", want: ""},
		{name: "bad port", remote: "198.51.100.1:http", want: ""},
		{name: "IPv4 in brackets", remote: "[198.51.100.1]:80", want: ""},

		// Forwarding headers from peers that are not trusted are ignored.
		{name: "XFF without proxies configured", remote: "203.0.113.7:1", header: h("X-Forwarded-For", "198.51.100.9"), want: "203.0.113.7"},
		{name: "XFF from untrusted peer", proxies: xff, remote: "203.0.113.7:1", header: h("X-Forwarded-For", "10.0.0.2"), want: "203.0.113.7"},
		{name: "Forwarded from untrusted peer", proxies: fwd, remote: "203.0.113.7:1", header: h("Forwarded", "for=198.51.100.9"), want: "203.0.113.7"},
		{name: "X-Real-IP from untrusted peer", proxies: realIP, remote: "203.0.113.7:1", header: h("X-Real-IP", "198.51.100.9"), want: "203.0.113.7"},

		// X-Forwarded-For from a trusted peer.
		{name: "XFF one hop", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.9"), want: "198.51.100.9"},
		{name: "XFF through two proxies", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.9, 10.0.0.2"), want: "198.51.100.9"},
		{name: "XFF forged entries on the left", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "6.6.6.6, 10.9.9.9,198.51.100.9, 10.0.0.2"), want: "198.51.100.9"},
		{name: "XFF over several lines", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "6.6.6.6", "198.51.100.9, 10.0.0.2"), want: "198.51.100.9"},
		{name: "XFF all trusted", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "10.1.1.1, 10.0.0.2"), want: "10.1.1.1"},
		{name: "XFF entry with port", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.9:4711"), want: "198.51.100.9"},
		{name: "XFF forged garbage on the left", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "<script>, 198.51.100.9"), want: "198.51.100.9"},
		{name: "XFF unknown written by a proxy", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.9, unknown, 10.0.0.2"), want: "10.0.0.2"},
		{name: "XFF unknown last", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", "198.51.100.9, unknown"), want: "10.0.0.1"},
		{name: "XFF empty items", proxies: xff, remote: "10.0.0.1:1", header: h("X-Forwarded-For", " , 198.51.100.9 ,,"), want: "198.51.100.9"},
		{name: "XFF IPv6 client", proxies: xff, remote: "[2001:db8:ffff::1]:443", header: h("X-Forwarded-For", "2001:db8:1::5, 2001:db8:ffff::2"), want: "2001:db8:1::5", wantKey: "2001:db8:1::/64"},
		{name: "trusted peer without header", proxies: xff, remote: "10.0.0.1:1", want: "10.0.0.1"},
		{
			name: "other headers are spoofable and ignored", proxies: xff, remote: "10.0.0.1:1",
			header: http.Header{"Forwarded": {"for=6.6.6.6"}, "X-Real-Ip": {"6.6.6.6"}, "X-Forwarded-For": {"198.51.100.9"}},
			want:   "198.51.100.9",
		},

		// Forwarded (RFC 7239) from a trusted peer.
		{name: "Forwarded two hops", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", "for=198.51.100.9;proto=https, for=10.0.0.2"), want: "198.51.100.9"},
		{name: "Forwarded quoted IPv6 with port", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `for="[2001:db8:cafe::17]:4711"`), want: "2001:db8:cafe::17", wantKey: "2001:db8:cafe::/64"},
		{name: "Forwarded quoted IPv4 with port, any case", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `proto=http;For="198.51.100.9:47011";by=10.0.0.2`), want: "198.51.100.9"},
		{name: "Forwarded obfuscated client", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", "for=_hidden, for=10.0.0.2"), want: "10.0.0.2"},
		{name: "Forwarded element without for", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", "for=198.51.100.9, by=10.0.0.5;proto=http"), want: "10.0.0.1"},
		{name: "Forwarded comma inside quotes", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `for=198.51.100.9;ext="a, for=6.6.6.6", for=10.0.0.2`), want: "198.51.100.9"},
		{name: "Forwarded forged on the left", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", "for=6.6.6.6", "for=198.51.100.9, for=10.0.0.2"), want: "198.51.100.9"},
		{name: "Forwarded ignores XFF", proxies: fwd, remote: "10.0.0.1:1", header: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=198.51.100.9"}}, want: "198.51.100.9"},
		{name: "Forwarded unterminated quote", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `for=198.51.100.9, for="10.0.0.2`), want: "10.0.0.1"},
		{name: "Forwarded two for= in one element", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", "for=198.51.100.9;for=6.6.6.6"), want: "10.0.0.1"},
		// A client's malformed element must not change how the elements
		// the proxies appended to the same line are read: an unbalanced
		// quote on the left would otherwise swallow them, and the client
		// would be keyed as the proxy, in a bucket shared with everyone
		// who does the same.
		{name: "Forwarded forged unterminated quote on the left", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `for="6.6.6.6, for=198.51.100.9, for=10.0.0.2`), want: "198.51.100.9"},
		{name: "Forwarded forged quote pairing with a proxy's", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `ext=", for="[2001:db8:1::5]:80", for=10.0.0.2`), want: "2001:db8:1::5", wantKey: "2001:db8:1::/64"},
		{name: "Forwarded forged escape on the left", proxies: fwd, remote: "10.0.0.1:1", header: h("Forwarded", `for="\", for=198.51.100.9`), want: "198.51.100.9"},

		// X-Real-IP from a trusted peer.
		{name: "X-Real-IP", proxies: realIP, remote: "10.0.0.1:1", header: h("X-Real-IP", "198.51.100.9"), want: "198.51.100.9"},
		{name: "X-Real-IP ignores XFF", proxies: realIP, remote: "10.0.0.1:1", header: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X-Real-Ip": {"198.51.100.9"}}, want: "198.51.100.9"},
		{name: "X-Real-IP not an address", proxies: realIP, remote: "10.0.0.1:1", header: h("X-Real-IP", "nope"), want: "10.0.0.1"},

		// A local peer (Unix socket, in-process listener) is trusted when
		// any proxy is.
		{name: "unix socket behind a trusted proxy", proxies: xff, remote: "@", header: h("X-Forwarded-For", "198.51.100.9, 10.0.0.2"), want: "198.51.100.9"},
		{name: "unix socket, proxy sent no header", proxies: xff, remote: "@", want: ""},
		{name: "unix socket, proxy wrote unknown", proxies: xff, remote: "@", header: h("X-Forwarded-For", "unknown"), want: ""},
		{name: "unix socket, Forwarded", proxies: fwd, remote: "", header: h("Forwarded", "for=198.51.100.9"), want: "198.51.100.9"},

		{name: "unknown ProxyHeader", proxies: ratelimit.Proxies{Trusted: trusted, Header: 9}, remote: "10.0.0.1:1", want: "", keyErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.header != nil {
				r.Header = tc.header
			}
			a, err := tc.proxies.ClientAddr(r)
			key, keyErr := tc.proxies.ClientIP(r)
			if len(tc.proxies.Trusted) == 0 {
				if direct, err := ratelimit.ClientIP(r); direct != key || (err != nil) != (keyErr != nil) {
					t.Fatalf("ClientIP = %q, %v; Proxies{}.ClientIP = %q, %v", direct, err, key, keyErr)
				}
			}
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ClientAddr = %v, want an error", a)
				}
				if tc.keyErr {
					if keyErr == nil {
						t.Fatalf("ClientIP = %q, want an error", key)
					}
					return
				}
				if keyErr != nil || key != ratelimit.LocalKey {
					t.Fatalf("ClientIP = %q, %v, want LocalKey %q", key, keyErr, ratelimit.LocalKey)
				}
				return
			}
			if err != nil || a != netip.MustParseAddr(tc.want) {
				t.Fatalf("ClientAddr = %v, %v, want %s", a, err, tc.want)
			}
			wantKey := tc.wantKey
			if wantKey == "" {
				wantKey = tc.want
			}
			if keyErr != nil || key != wantKey {
				t.Fatalf("ClientIP = %q, %v, want %q", key, keyErr, wantKey)
			}
		})
	}
}

func h(name string, values ...string) http.Header {
	return http.Header{http.CanonicalHeaderKey(name): values}
}

func TestProxiesClient(t *testing.T) {
	p := ratelimit.Proxies{Trusted: trusted}
	peer := netip.MustParseAddr("::ffff:10.0.0.1")
	if got := p.Client(peer, []string{"198.51.100.9, 10.0.0.2"}); got != netip.MustParseAddr("198.51.100.9") {
		t.Fatalf("Client = %v, want 198.51.100.9", got)
	}
	if got := p.Client(netip.MustParseAddr("203.0.113.7"), []string{"198.51.100.9"}); got != netip.MustParseAddr("203.0.113.7") {
		t.Fatalf("Client from an untrusted peer = %v, want the peer", got)
	}
}

func TestProxyHeaderString(t *testing.T) {
	for h, want := range map[ratelimit.ProxyHeader]string{
		ratelimit.XForwardedFor: "X-Forwarded-For", ratelimit.Forwarded: "Forwarded", ratelimit.XRealIP: "X-Real-Ip", 7: "ProxyHeader(7)",
	} {
		if got := h.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

// refParse parses one hop the slow, obvious way.
func refParse(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap().WithZone(""), true
		}
		return netip.Addr{}, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && (!strings.HasPrefix(s, "[") || ap.Addr().Is6()) {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

type hop struct {
	addr netip.Addr
	ok   bool
}

// refClient walks hops from the right, as the Proxies documentation says.
func refClient(peer netip.Addr, hops []hop) netip.Addr {
	a, _ := refWalk(peer, hops)
	return a
}

// refWalk is refClient that also reports whether the walk stopped at one
// of hops (an untrusted or unreadable one), so that whatever lies to their
// left was never read.
func refWalk(peer netip.Addr, hops []hop) (netip.Addr, bool) {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if peer.IsValid() && !isTrusted(peer) { // a peer without an address is local, and trusted
		return peer, true
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].ok {
			return last, true
		}
		if !isTrusted(hops[i].addr) {
			return hops[i].addr, true
		}
		last = hops[i].addr
	}
	return last, false
}

func refKey(a netip.Addr) string {
	if !a.IsValid() {
		return ratelimit.LocalKey
	}
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// FuzzClientIP checks the X-Forwarded-For and X-Real-IP readers against
// the reference walk for any RemoteAddr and header value, and that no
// header from an untrusted peer changes the answer.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"10.0.0.1:1", "198.51.100.9, 10.0.0.2"},
		{"203.0.113.7:1", "10.0.0.2"},
		{"[2001:db8:ffff::1]:443", "2001:db8:1::5, [2001:db8:ffff::2]:80"},
		{"10.0.0.1:1", "unknown, 10.0.0.2,,"},
		{"10.0.0.1", " [::ffff:1.2.3.4] , 1.2.3.4:0"},
		{"@", "1.2.3.4"},
		{"[fe80::1%eth0]:1", "fe80::2%25x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, remote, value string) {
		for _, header := range []ratelimit.ProxyHeader{ratelimit.XForwardedFor, ratelimit.XRealIP} {
			p := ratelimit.Proxies{Trusted: trusted, Header: header}
			r := &http.Request{RemoteAddr: remote, Header: http.Header{header.String(): {value}}}
			got, err := p.ClientAddr(r)
			peer, _ := refParse(remote)
			var hops []hop
			for _, item := range strings.Split(value, ",") {
				if item = strings.TrimSpace(item); item != "" {
					a, ok := refParse(item)
					hops = append(hops, hop{a, ok})
				}
			}
			want := refClient(peer, hops)
			if !want.IsValid() {
				if err == nil {
					t.Fatalf("%s: %q from local peer %q: ClientAddr = %v, want an error", header, value, remote, got)
				}
			} else if err != nil || got != want {
				t.Fatalf("%s: %q from %q: ClientAddr = %v, %v, want %v", header, value, remote, got, err, want)
			}
			if key, err := p.ClientIP(r); err != nil || key != refKey(want) {
				t.Fatalf("ClientIP = %q, %v, want %q", key, err, refKey(want))
			}
			if got := p.Client(peer, nil); got != peer {
				t.Fatalf("Client without header values = %v, want the peer %v", got, peer)
			}
		}
	})
}

// FuzzForwarded renders a chain of hops, chosen by the fuzzer, as a
// Forwarded header with varied syntax, and checks that the client read
// from it is the one the reference walk finds. It also feeds the raw
// input to the parser, which must never fail, and puts it on the left of
// the chain, as a client's forged header that the proxies appended to:
// when the walk stops inside the chain, nothing the client wrote changes
// the answer.
func FuzzForwarded(f *testing.F) {
	f.Add([]byte{1, 2, 3, 0, 4}, `for=198.51.100.9;proto=https, for="[2001:db8::1]:80"`)
	f.Add([]byte{0, 0, 0}, `for="unterminated`)
	f.Add([]byte{7, 200, 13, 77}, `;;,,for=;by="\"",For=10.0.0.1`)
	f.Add([]byte{1, 9}, `for="6.6.6.6`)
	f.Add([]byte{2, 3}, `a="`)
	addrs := []string{"198.51.100.9", "10.0.0.2", "2001:db8:1::5", "2001:db8:ffff::2", "10.9.9.9", "203.0.113.1"}
	f.Fuzz(func(t *testing.T, chain []byte, raw string) {
		p := ratelimit.Proxies{Trusted: trusted, Header: ratelimit.Forwarded}
		peer := netip.MustParseAddr("10.0.0.1")

		var hops []hop
		var value strings.Builder
		for i, c := range chain {
			a := addrs[int(c)%len(addrs)]
			addr := netip.MustParseAddr(a)
			var v string
			switch c / 8 % 6 {
			case 0:
				v = "for=" + a
				if addr.Is6() {
					v = `for="[` + a + `]"`
				}
			case 1:
				v = `for="` + a + `"`
				if addr.Is6() {
					v = `for="[` + a + `]:8080"`
				}
			case 2:
				v = `proto=https;FOR="` + a + `:443";by=_gw`
				if addr.Is6() {
					v = `proto=https;FOR="[` + a + `]:443";by=_gw`
				}
			case 3:
				v = "for=unknown"
				addr = netip.Addr{}
			case 4:
				v = `host="example.com:8080";for=` + a + `;ext="x,y;z"`
				if addr.Is6() {
					v = `for="[` + a + `]";host="a,b"`
				}
			case 5:
				v = "proto=http" // no for=: an unreadable hop
				addr = netip.Addr{}
			}
			hops = append(hops, hop{addr, addr.IsValid()})
			if i > 0 {
				value.WriteString([]string{", ", ",", " ,\t"}[i%3])
			}
			value.WriteString(v)
		}
		r := &http.Request{RemoteAddr: "10.0.0.1:1", Header: http.Header{"Forwarded": {value.String()}}}
		got, err := p.ClientAddr(r)
		if want := refClient(peer, hops); err != nil || got != want {
			t.Fatalf("Forwarded: %s\nClientAddr = %v, %v, want %v", value.String(), got, err, want)
		}

		r.Header = http.Header{"Forwarded": {raw}}
		if a, err := p.ClientAddr(r); err != nil || !a.IsValid() {
			t.Fatalf("Forwarded: %q: ClientAddr = %v, %v", raw, a, err)
		}

		if len(chain) == 0 {
			return
		}
		forged := raw + ", " + value.String()
		r.Header = http.Header{"Forwarded": {forged}}
		got, err = p.ClientAddr(r)
		if want, stopped := refWalk(peer, hops); stopped && (err != nil || got != want) {
			t.Fatalf("Forwarded: %s\nClientAddr = %v, %v, want %v: the forged left part changed the answer", forged, got, err, want)
		} else if !stopped && (err != nil || !got.IsValid()) {
			t.Fatalf("Forwarded: %q: ClientAddr = %v, %v", forged, got, err)
		}
	})
}

// FuzzRemoteAddr checks ClientIP, whose parser of IPv4 peers is its own,
// against the reference parser for any RemoteAddr: the key of the address
// netip finds, or LocalKey when it finds none.
func FuzzRemoteAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.7:40000", "1.2.3.4", "01.2.3.4:1", "1.2.3.4:65536", "1.2.3.4:", "256.1.1.1:1",
		"1.2.3:4", "1.2.3.4.5", "[::1]:80", "::ffff:1.2.3.4", "@", "", "0.0.0.0:0", "1.2.3.4:00080"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		want := ratelimit.LocalKey
		if a, ok := refParse(remote); ok {
			want = refKey(a)
		}
		if got, err := ratelimit.ClientIP(&http.Request{RemoteAddr: remote}); err != nil || got != want {
			t.Fatalf("ClientIP of %q = %q, %v, want %q", remote, got, err, want)
		}
	})
}
