package paved_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/internal/httpx"
)

// TestPublicConstantsMatchInternals keeps the literal values in the
// public docs the ones paved uses.
func TestPublicConstantsMatchInternals(t *testing.T) {
	if paved.ContentTypeProblem != httpx.ContentTypeProblem || paved.StatusClientClosedRequest != httpx.StatusClientClosedRequest ||
		paved.DefaultMaxIdleConns != httpx.DefaultMaxIdleConns || paved.DefaultMaxIdleConnsPerHost != httpx.DefaultMaxIdleConnsPerHost ||
		paved.DefaultIdleConnTimeout != httpx.DefaultIdleConnTimeout {
		t.Fatal("a public constant differs from the value paved uses")
	}
}

func TestDefaultTransport(t *testing.T) {
	tr := paved.DefaultTransport()
	if paved.DefaultTransport() != tr {
		t.Fatal("DefaultTransport returned a second transport: the pool would not be shared")
	}
	if tr == http.DefaultTransport {
		t.Fatal("DefaultTransport is http.DefaultTransport itself")
	}
	if tr.MaxIdleConnsPerHost != 128 || tr.MaxIdleConns != 512 || tr.IdleConnTimeout != 90*time.Second {
		t.Fatalf("pool %d per host, %d in all, idle %v; want 128, 512, 90s", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.IdleConnTimeout)
	}
	if tr.MaxIdleConnsPerHost != paved.DefaultMaxIdleConnsPerHost || tr.MaxIdleConns != paved.DefaultMaxIdleConns || tr.IdleConnTimeout != paved.DefaultIdleConnTimeout {
		t.Fatal("the documented constants disagree with the transport")
	}
	std := http.DefaultTransport.(*http.Transport)
	if tr.Proxy == nil || tr.TLSHandshakeTimeout != std.TLSHandshakeTimeout || tr.ForceAttemptHTTP2 != std.ForceAttemptHTTP2 ||
		tr.ExpectContinueTimeout != std.ExpectContinueTimeout {
		t.Fatal("http.DefaultTransport's settings were not kept")
	}
}
