package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	var calls atomic.Int64
	var badKey atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("X-API-Key") != "admin-key" {
			badKey.Add(1)
		}
		if n%10 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"i-1"}`)
	}))
	defer srv.Close()

	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL + "/instances", "-n", "200", "-c", "4",
		"-duration", "1m", "-H", "X-API-Key: admin-key"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 200 {
		t.Errorf("server saw %d requests, want 200", got)
	}
	if badKey.Load() != 0 {
		t.Errorf("%d requests without the -H header", badKey.Load())
	}
	text := out.String()
	t.Log("\n" + text)
	for _, want := range []string{
		`(?m)^requests  200 in \S+$`,
		`(?m)^rate      [0-9.]+ requests/s$`,
		`(?m)^status    200: 180  429: 20$`,
		`(?m)^latency   p50 \S+  p90 \S+  p99 \S+  max \S+$`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output does not match %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "error") {
		t.Errorf("output reports errors:\n%s", text)
	}
}

func TestRunCompare(t *testing.T) {
	var bare, full atomic.Int64
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bare.Add(1)
		io.WriteString(w, "ok")
	}))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		full.Add(1)
		if r.Header.Get("X-API-Key") != "admin-key" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer b.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", a.URL, "-compare", b.URL, "-n", "50", "-c", "2", "-H", "X-API-Key: admin-key"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if bare.Load() != 50 || full.Load() != 50 {
		t.Errorf("servers saw %d and %d requests, want 50 each", bare.Load(), full.Load())
	}
	text := out.String()
	for _, want := range []string{
		`(?m)^target    GET ` + regexp.QuoteMeta(a.URL) + ` \(-c 2\)$`,
		`(?m)^target    GET ` + regexp.QuoteMeta(b.URL) + ` \(-c 2\)$`,
		`(?m)^status    200: 50$(?s:.*)^status    200: 50$`,
		`(?m)^compare   ` + regexp.QuoteMeta(b.URL) + ` serves [0-9]+% of the requests/s of ` + regexp.QuoteMeta(a.URL) + `$`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output does not match %s:\n%s", want, text)
		}
	}
}

// TestRunKeepAlive checks that the workers reuse their connections.
func TestRunKeepAlive(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", srv.URL, "-n", "300", "-c", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	// Without keep-alive there would be 300. With it, a worker opens a new
	// connection now and then on a busy machine: net/http's Transport does
	// not reuse one when its write loop is slow to confirm the last request.
	if got := conns.Load(); got > 30 {
		t.Errorf("%d connections for 300 requests of 3 workers:\n%s", got, out.String())
	}
}

// TestRunTimeCap checks that -duration stops a run whose server answers
// slowly before -n requests are sent.
func TestRunTimeCap(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var out bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"-url", srv.URL, "-n", "1000000", "-c", "2", "-duration", "200ms"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("run took %s with a 200ms cap", d)
	}
	if !strings.Contains(out.String(), "stopped at the 200ms cap, 0 of -n 1000000") {
		t.Errorf("output does not say the cap stopped the run:\n%s", out.String())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote host", []string{"-url", "http://example.com/"}, `host "example.com" is not a loopback address`},
		{"remote ip", []string{"-url", "http://192.0.2.1:8080/"}, `host "192.0.2.1" is not a loopback address`},
		{"not http", []string{"-url", "ftp://127.0.0.1/"}, "want an http or https URL"},
		{"remote compare", []string{"-compare", "http://192.0.2.1/"}, `-compare "http://192.0.2.1/": host "192.0.2.1" is not a loopback address`},
		{"zero n", []string{"-n", "0"}, "-n must be at least 1"},
		{"zero c", []string{"-c", "0"}, "-c must be at least 1"},
		{"zero duration", []string{"-duration", "0s"}, "-duration must be positive"},
		{"bad header", []string{"-H", "no colon"}, "want 'Name: value'"},
		{"extra argument", []string{"http://127.0.0.1/"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parse(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestParseLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/", "http://127.1.2.3/", "http://[::1]:80/", "http://localhost:8080/", "https://api.localhost/"} {
		if _, err := parse([]string{"-url", u}, io.Discard); err != nil {
			t.Errorf("parse -url %s: %v", u, err)
		}
	}
	if _, err := parse([]string{"-url", "http://192.0.2.1/", "-allow-remote"}, io.Discard); err != nil {
		t.Errorf("parse with -allow-remote: %v", err)
	}
}

// TestDialRefusesRemote checks that the connection check holds when a
// name passes the URL check: a localhost name must still connect to a
// loopback address.
func TestDialRefusesRemote(t *testing.T) {
	cfg, err := parse([]string{"-url", "http://192.0.2.1:9/", "-allow-remote", "-n", "1", "-timeout", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.allowRemote = false // as if the name had passed the check
	_, err = load(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("load = %v, want a refused connection", err)
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{90, 90 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{0, time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("percentile(1..100ms, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
}
