package paved

import (
	"net/http"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

// Pool sizes of DefaultTransport. http.DefaultTransport keeps two idle
// connections per host, which suits a client talking to many hosts; a
// service calls a few upstreams with many requests in flight, and with two
// idle connections per host every burst above two closes connections on
// return and dials new ones.
const (
	// DefaultMaxIdleConnsPerHost is DefaultTransport's MaxIdleConnsPerHost:
	// idle connections kept open to one upstream host.
	DefaultMaxIdleConnsPerHost = 128
	// DefaultMaxIdleConns is DefaultTransport's MaxIdleConns: idle
	// connections kept open in all.
	DefaultMaxIdleConns = 512
	// DefaultIdleConnTimeout is DefaultTransport's IdleConnTimeout: how
	// long an unused connection stays open.
	DefaultIdleConnTimeout = 90 * time.Second
)

// DefaultTransport returns paved's default base transport, the one every
// paved RoundTripper given a nil base sends its requests through:
// http.DefaultTransport's settings (proxy from the environment, dial and
// TLS timeouts, HTTP/2) with a connection pool sized for service-to-service
// calls: DefaultMaxIdleConnsPerHost (128) idle connections per host,
// DefaultMaxIdleConns (512) in all, closed after DefaultIdleConnTimeout
// (90s) unused.
//
// Every call returns the same *http.Transport, shared by the whole
// process, so its pool is reused across clients. Do not modify it: to
// change a setting, Clone it and use the copy, which has a pool of its
// own.
func DefaultTransport() *http.Transport { return httpx.DefaultTransport() }
