package breaker_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// pipeListener serves connections made by dialing it, over net.Pipe, so
// a real http.Server and http.Transport run inside a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// slowBody is a request body a caller sends in chunks, one every gap.
type slowBody struct {
	chunks int
	gap    time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.chunks == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.gap)
	b.chunks--
	p[0] = 'x'
	return 1, nil
}

// TestTransportSlowCallsLeaveOutTheUpload is the gateway's case: valid
// launches uploaded slowly (2.7 s each) and answered 201 at once must not
// count as slow calls and open the upstream breaker; an upstream slow to
// answer still counts, with a body or without.
func TestTransportSlowCallsLeaveOutTheUpload(t *testing.T) {
	tests := []struct {
		name       string
		upload     time.Duration // the caller takes this long to send the body
		answer     time.Duration // the upstream takes this long to answer once it has it
		calls      int
		wantStatus int
		want       map[string]int64
	}{
		{"slow upload, fast answer", 2700 * time.Millisecond, 0, 12, http.StatusCreated, map[string]int64{"success": 12}},
		{"no body, slow answer", 0, 1500 * time.Millisecond, 3, http.StatusCreated, map[string]int64{"slow": 3}},
		{"slow upload, slow answer", 2700 * time.Millisecond, 1500 * time.Millisecond, 3, http.StatusCreated, map[string]int64{"slow": 3}},
		{"upload and answer under the threshold, together over it", 900 * time.Millisecond, 500 * time.Millisecond, 3, http.StatusCreated, map[string]int64{"success": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lis := newPipeListener()
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					time.Sleep(tc.answer)
					w.WriteHeader(http.StatusCreated)
				})}
				go func() { _ = srv.Serve(lis) }()
				base := &http.Transport{DialContext: lis.DialContext}
				defer func() {
					base.CloseIdleConnections()
					_ = srv.Close()
				}()

				m := newMeter(t)
				b := mustNew(t, "upstream", breaker.WithMeterProvider(m), breaker.WithSlowCallThreshold(time.Second))
				client := &http.Client{Transport: b.Transport(base)}
				for i := range tc.calls {
					var body io.Reader
					if tc.upload > 0 {
						body = &slowBody{chunks: 27, gap: tc.upload / 27}
					}
					resp, err := client.Post("http://upstream.test/launches", "application/octet-stream", body)
					if err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					resp.Body.Close()
					if resp.StatusCode != tc.wantStatus {
						t.Fatalf("call %d: status %d, want %d", i, resp.StatusCode, tc.wantStatus)
					}
				}
				if got := m.calls(t, "upstream"); !maps.Equal(got, tc.want) {
					t.Fatalf("calls %v, want %v", got, tc.want)
				}
			})
		})
	}
}
