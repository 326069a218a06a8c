package faults_test

import (
	"net/http"
	"testing"

	"github.com/paved-go/paved/faults"
)

// idleCloser is a base transport that counts CloseIdleConnections.
type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

func TestTransportCloseIdleConnections(t *testing.T) {
	base := &idleCloser{RoundTripper: http.DefaultTransport}
	inj, err := faults.New("closeidle")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: inj.Transport(base)}
	client.CloseIdleConnections()
	if base.closed != 1 {
		t.Fatalf("base CloseIdleConnections called %d times, want 1", base.closed)
	}
}
