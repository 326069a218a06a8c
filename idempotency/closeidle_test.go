package idempotency_test

import (
	"net/http"
	"testing"

	"github.com/paved-go/paved/idempotency"
)

// idleCloser is a base transport that counts CloseIdleConnections.
type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

func TestTransportCloseIdleConnections(t *testing.T) {
	base := &idleCloser{RoundTripper: http.DefaultTransport}
	client := &http.Client{Transport: idempotency.Transport(base)}
	client.CloseIdleConnections()
	if base.closed != 1 {
		t.Fatalf("base CloseIdleConnections called %d times, want 1", base.closed)
	}
}
