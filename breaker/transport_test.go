package breaker_test

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

	"github.com/paved-go/paved/breaker"
)

// TestTransport runs against real servers: per-host breakers, failure
// statuses, and rejections that never touch the network.
func TestTransport(t *testing.T) {
	newUpstream := func(status *atomic.Int64, hits *atomic.Int64) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(int(status.Load()))
		}))
	}
	var statusA, statusB, hitsA, hitsB atomic.Int64
	statusA.Store(http.StatusTooManyRequests)
	statusB.Store(http.StatusNotFound)
	a, b := newUpstream(&statusA, &hitsA), newUpstream(&statusB, &hitsB)
	defer a.Close()
	defer b.Close()

	reg := mustRegistry(t, breaker.WithFailureRate(0.5, 4))
	client := &http.Client{Transport: reg.Transport(nil)}
	defer client.CloseIdleConnections()
	get := func(url string) (*http.Response, error) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for range 4 {
		if resp, err := get(a.URL); err != nil || resp.StatusCode != 429 {
			t.Fatalf("A: %v %v", resp, err)
		}
		if resp, err := get(b.URL); err != nil || resp.StatusCode != 404 {
			t.Fatalf("B: %v %v", resp, err)
		}
	}
	before := hitsA.Load()
	_, err := get(a.URL)
	if !errors.Is(err, breaker.ErrOpen) || hitsA.Load() != before {
		t.Fatalf("open host: err %v, %d requests reached it", err, hitsA.Load()-before)
	}
	if oe := openErr(t, err); oe.Name != strings.TrimPrefix(a.URL, "http://") {
		t.Fatalf("breaker name %q, want the host", oe.Name)
	}
	if _, err := get(b.URL); err != nil {
		t.Fatalf("the other host was rejected: %v", err)
	}
	// A rejected request's body is closed, as RoundTrip must.
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", a.URL, body)
	if _, err := client.Do(req); !errors.Is(err, breaker.ErrOpen) || !body.closed {
		t.Fatalf("err %v, body closed %v", err, body.closed)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func respond(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
}

func TestTransportOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		ctx        func() context.Context
		rt         roundTripFunc
		wantCounts breaker.Counts
	}{
		{"200", nil, func(*http.Request) (*http.Response, error) { return respond(200, ""), nil },
			breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}},
		{"404", nil, func(*http.Request) (*http.Response, error) { return respond(404, ""), nil },
			breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}},
		{"503", nil, func(*http.Request) (*http.Response, error) { return respond(503, ""), nil },
			breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}},
		{"connection refused", nil, func(*http.Request) (*http.Response, error) { return nil, errors.New("dial tcp: connection refused") },
			breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}},
		{"timeout", nil, func(r *http.Request) (*http.Response, error) { return nil, context.DeadlineExceeded },
			breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}},
		{"caller canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, func(r *http.Request) (*http.Response, error) { return nil, r.Context().Err() }, breaker.Counts{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNew(t, "t")
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://upstream/", nil)
			resp, err := b.Transport(tc.rt).RoundTrip(req)
			if (resp == nil) == (err == nil) {
				t.Fatalf("RoundTrip = %v, %v: exactly one must be nil", resp, err)
			}
			if c := b.Counts(); c != tc.wantCounts {
				t.Fatalf("counts %+v, want %+v", c, tc.wantCounts)
			}
		})
	}
}

// TestTransportRecovers walks a host's breaker through open, half-open and
// closed again, with the fallback serving the last good response meanwhile.
func TestTransportRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var up atomic.Bool
		up.Store(true)
		var sent atomic.Int64
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			if !up.Load() {
				return respond(502, "bad gateway"), nil
			}
			return respond(200, "fresh"), nil
		})
		reg := mustRegistry(t, breaker.WithConsecutiveFailures(2),
			breaker.WithTransportFallback(func(r *http.Request, err error) (*http.Response, error) {
				if errors.Is(err, breaker.ErrTooManyRequests) {
					return nil, nil // keep the rejection
				}
				resp := respond(200, "stale")
				resp.Header.Set("X-Fallback", err.Error())
				return resp, nil
			}))
		rt := reg.Transport(base)
		get := func() (string, string, error) {
			req, _ := http.NewRequest("GET", "http://upstream/instances", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				return "", "", err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return string(body), resp.Header.Get("X-Fallback"), nil
		}
		type result struct{ body, flag string }
		check := func(want result) {
			t.Helper()
			body, flag, err := get()
			if err != nil || (result{body, flag}) != want {
				t.Fatalf("got %q %q %v, want %+v", body, flag, err, want)
			}
		}
		check(result{"fresh", ""})
		up.Store(false)
		check(result{"stale", "breaker: response status 502"})
		check(result{"stale", "breaker: response status 502"}) // trips
		n := sent.Load()
		check(result{"stale", "breaker: open"})
		if sent.Load() != n {
			t.Fatal("an open breaker let a request through")
		}
		up.Store(true)
		time.Sleep(30*time.Second + 1)
		for range 3 {
			check(result{"fresh", ""}) // probes
		}
		if st := reg.Get("upstream").State(); st != breaker.StateClosed {
			t.Fatalf("state %v", st)
		}
	})
}

func TestPackageTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	rt := breaker.Transport(srv.Client().Transport)
	defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	var last error
	for range 11 {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		last = err
	}
	if !errors.Is(last, breaker.ErrOpen) {
		t.Fatalf("after 10 failures: %v, want ErrOpen", last)
	}
}
