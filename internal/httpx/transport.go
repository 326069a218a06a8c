package httpx

import (
	"net/http"
	"sync"
	"time"
)

// Pool sizes of the default base transport. http.DefaultTransport keeps
// two idle connections per host, which suits a browser-like client talking
// to many hosts; a service calls a few upstreams with many requests in
// flight, and with two idle connections per host every burst above two
// closes connections on return and dials new ones (measured: ~10,000
// connections opened and closed in 20 s at 64 concurrent requests).
const (
	DefaultMaxIdleConnsPerHost = 128
	DefaultMaxIdleConns        = 512
	DefaultIdleConnTimeout     = 90 * time.Second
)

var defaultTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = DefaultMaxIdleConns
	t.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	t.IdleConnTimeout = DefaultIdleConnTimeout
	return t
})

// DefaultTransport returns paved's default base transport, shared by every
// paved RoundTripper given a nil base: http.DefaultTransport's settings
// (proxy from the environment, dial and TLS timeouts, HTTP/2) with a
// connection pool sized for service-to-service calls: up to
// DefaultMaxIdleConnsPerHost idle connections per host and
// DefaultMaxIdleConns in all.
func DefaultTransport() *http.Transport { return defaultTransport() }

// BaseTransport returns base, or DefaultTransport when base is nil.
func BaseTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		return DefaultTransport()
	}
	return base
}
