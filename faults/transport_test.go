package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/faults"
)

// upstream is an httptest server answering "hello, world", counting its
// requests.
func upstream(t *testing.T) (*httptest.Server, *hello) {
	t.Helper()
	h := &hello{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, h
}

func client(inj *faults.Injector, srv *httptest.Server) *http.Client {
	return &http.Client{Transport: inj.Transport(srv.Client().Transport)}
}

func TestTransportOffInjectsNothing(t *testing.T) {
	srv, h := upstream(t)
	resp, err := client(quiet(t), srv).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello, world" || resp.Header.Get("Paved-Fault") != "" || h.served.Load() != 1 {
		t.Fatalf("got %q, Paved-Fault %q, served %d", body, resp.Header.Get("Paved-Fault"), h.served.Load())
	}
}

func TestTransportError(t *testing.T) {
	srv, h := upstream(t)
	inj := quiet(t, faults.Rule{Name: "drill", Percent: 100, GRPCCode: "UNAVAILABLE", Match: faults.Match{Host: strings.TrimPrefix(srv.URL, "http://")}})
	resp, err := client(inj, srv).Post(srv.URL+"/x", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Status != "503 Service Unavailable" || resp.Header.Get("Content-Type") != "application/problem+json" ||
		resp.Header.Get("Paved-Fault") != "drill" || p.Detail != "faults: injected error (rule drill)" {
		t.Fatalf("got %s %s, Paved-Fault %q, problem %+v", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Paved-Fault"), p)
	}
	if h.served.Load() != 0 {
		t.Fatal("an injected error reached the upstream")
	}
}

func TestTransportReset(t *testing.T) {
	srv, h := upstream(t)
	inj := quiet(t, faults.Rule{Name: "cut", Percent: 100, Reset: true})
	_, err := client(inj, srv).Get(srv.URL)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Get: %v, want a connection reset", err)
	}
	if ie, ok := errors.AsType[*faults.InjectedError](err); !ok || ie.Rule != "cut" || ie.Kind != faults.KindReset {
		t.Fatalf("Get: %v, not an *InjectedError of rule cut", err)
	}
	if !strings.Contains(err.Error(), "faults: injected reset (rule cut)") {
		t.Fatalf("message %q does not say the reset was injected", err)
	}
	if h.served.Load() != 0 {
		t.Fatal("a reset request reached the upstream")
	}
}

func TestTransportAbort(t *testing.T) {
	srv, h := upstream(t)
	inj := quiet(t, faults.Rule{Name: "cut", Percent: 100, Abort: true})
	resp, err := client(inj, srv).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello," || !errors.Is(err, io.ErrUnexpectedEOF) || resp.Header.Get("Paved-Fault") != "cut" {
		t.Fatalf("read %q, %v, Paved-Fault %q; want \"hello,\" and an unexpected EOF", body, err, resp.Header.Get("Paved-Fault"))
	}
	if _, ok := errors.AsType[*faults.InjectedError](err); !ok {
		t.Fatalf("read error %v is not an *InjectedError", err)
	}
	if h.served.Load() != 1 {
		t.Fatalf("upstream served %d, want 1", h.served.Load())
	}
}

func TestTransportAbortUnknownLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			io.WriteString(w, "0123456789")
			http.NewResponseController(w).Flush() // chunked: no Content-Length
		}
	}))
	defer srv.Close()
	inj := quiet(t, faults.Rule{Name: "cut", Percent: 100, Abort: true})
	resp, err := client(inj, srv).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ContentLength != -1 || len(body) == 0 || len(body) >= 40 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %d bytes %q, %v; want part of 40 and an unexpected EOF", len(body), body, err)
	}
}

// roundTripper answers every request with 200 at once, counting them.
type roundTripper struct{ sent atomic.Int64 }

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.sent.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

func TestTransportLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: time.Second, Match: faults.Match{Method: "GET"}})
		rt := &roundTripper{}
		tr := inj.Transport(rt)
		start := time.Now()
		resp, err := tr.RoundTrip(httptest.NewRequest("GET", "http://upstream/", nil))
		if err != nil || time.Since(start) != time.Second || resp.Header.Get("Paved-Fault") != "slow" {
			t.Fatalf("RoundTrip: %v after %v, Paved-Fault %q; want 1s", err, time.Since(start), resp.Header.Get("Paved-Fault"))
		}
		start = time.Now()
		resp, err = tr.RoundTrip(httptest.NewRequest("POST", "http://upstream/", nil))
		if err != nil || time.Since(start) != 0 || resp.Header.Get("Paved-Fault") != "" {
			t.Fatalf("a POST was delayed %v (%v)", time.Since(start), err)
		}
	})
}

func TestTransportLatencyEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: time.Minute})
		rt := &roundTripper{}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		body := &closeCounter{Reader: strings.NewReader("x")}
		req := httptest.NewRequestWithContext(ctx, "POST", "http://upstream/", body)
		_, err := inj.Transport(rt).RoundTrip(req)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("RoundTrip: %v after %v, want the deadline after 1s", err, time.Since(start))
		}
		if rt.sent.Load() != 0 || body.closed.Load() != 1 {
			t.Fatalf("sent %d, body closed %d times; want 0, 1", rt.sent.Load(), body.closed.Load())
		}
	})
}

type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestTransportRates(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "half", Percent: 50, Reset: true})
	rt := &roundTripper{}
	tr := inj.Transport(rt)
	const n = 10000
	failed := 0
	for range n {
		if _, err := tr.RoundTrip(httptest.NewRequest("GET", "http://upstream/", nil)); err != nil {
			failed++
		}
	}
	if failed < n*47/100 || failed > n*53/100 || int64(n-failed) != rt.sent.Load() {
		t.Fatalf("%d of %d failed, %d sent; want 50%% ± 3", failed, n, rt.sent.Load())
	}
}
