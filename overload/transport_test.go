package overload_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paved-go/paved/overload"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBulkheadTransport(t *testing.T) {
	b := newBulkhead(t, 1)
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		if r.URL.Path == "/fail" {
			return nil, errors.New("dial failed")
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
	})
	client := &http.Client{Transport: b.Transport(base)}
	resp, err := client.Get("http://127.0.0.1/a")
	if err != nil {
		t.Fatal(err)
	}
	// The slot is held until the body is closed.
	if _, err := client.Get("http://127.0.0.1/b"); !errors.Is(err, overload.ErrShed) {
		t.Fatalf("second request while the first body is open = %v, want ErrShed", err)
	}
	resp.Body.Close()
	resp.Body.Close() // a second Close frees nothing more
	if b.InFlight() != 0 {
		t.Fatalf("InFlight after Close = %d", b.InFlight())
	}
	if _, err := client.Get("http://127.0.0.1/fail"); err == nil {
		t.Fatal("want the base transport's error")
	}
	if b.InFlight() != 0 || calls != 2 {
		t.Fatalf("InFlight %d, calls %d; want 0, 2", b.InFlight(), calls)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://127.0.0.1/c", nil)
	resp, err = b.Transport(base).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
