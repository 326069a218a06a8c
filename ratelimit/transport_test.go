package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/ratelimit"
)

// roundTripFunc is a base transport that answers without a network, so
// pacing can be timed under synctest.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func okResponse(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func TestTransportPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, 10, 1)
		var sent []time.Duration
		start := time.Now()
		client := &http.Client{Transport: l.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = append(sent, time.Since(start))
			return okResponse(r)
		}))}
		for range 3 {
			resp, err := client.Get("http://upstream.test/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		want := []time.Duration{0, 100 * ms, 200 * ms}
		if len(sent) != 3 || sent[0] != want[0] || sent[1] != want[1] || sent[2] != want[2] {
			t.Fatalf("requests sent at %v, want %v", sent, want)
		}
	})
}

// closeRecorder is a request body that records being closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestTransportFailsFast(t *testing.T) {
	tests := []struct {
		name    string
		opts    []ratelimit.Option
		timeout time.Duration
	}{
		{"max wait zero", []ratelimit.Option{ratelimit.WithMaxWait(0)}, 0},
		{"deadline too close", nil, 50 * ms},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := mustNew(t, 10, 1, tc.opts...)
				var sent int
				rt := l.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
					sent++
					return okResponse(r)
				}))
				ctx := t.Context()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				for i := range 2 {
					body := &closeRecorder{Reader: strings.NewReader("x")}
					r, _ := http.NewRequestWithContext(ctx, "POST", "http://upstream.test/", body)
					start := time.Now()
					resp, err := rt.RoundTrip(r)
					if i == 0 {
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
						continue
					}
					le, ok := errors.AsType[*ratelimit.LimitError](err)
					if !ok || le.RetryAfter != 100*ms || time.Since(start) != 0 {
						t.Fatalf("second request: %v after %v, want a *LimitError at once", err, time.Since(start))
					}
					if !body.closed {
						t.Fatal("the request body of a failed round trip was not closed")
					}
				}
				if sent != 1 {
					t.Fatalf("%d requests reached the base transport, want 1", sent)
				}
			})
		})
	}
}

func TestTransportOverHTTP(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	l := mustNew(t, 1e-3, 2, ratelimit.WithMaxWait(0))
	client := &http.Client{Transport: l.Transport(nil)} // nil base: paved's default transport
	defer client.CloseIdleConnections()
	var errs int
	for range 4 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrLimited) {
				t.Fatalf("error %v does not unwrap to ErrLimited", err)
			}
			errs++
			continue
		}
		resp.Body.Close()
	}
	if hits.Load() != 2 || errs != 2 {
		t.Fatalf("server saw %d requests and the client %d errors, want 2 and 2", hits.Load(), errs)
	}
}

func TestTransportNilLimiter(t *testing.T) {
	var sent int
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { sent++; return okResponse(r) })
	var l *ratelimit.Limiter
	r := httptest.NewRequest("GET", "http://upstream.test/", nil)
	for range 3 {
		if _, err := l.Transport(base).RoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	if sent != 3 {
		t.Fatalf("base saw %d requests, want 3", sent)
	}
	if rt := l.Transport(nil); rt != http.RoundTripper(httpx.DefaultTransport()) {
		t.Fatalf("nil Limiter's Transport(nil) = %v, want paved's default transport", rt)
	}
}

func TestTransportNilBase(t *testing.T) {
	l := mustNew(t, 1, 1)
	rt := l.Transport(nil)
	c, ok := rt.(interface{ CloseIdleConnections() })
	if !ok {
		t.Fatalf("%T does not pass CloseIdleConnections on", rt)
	}
	c.CloseIdleConnections()
}
