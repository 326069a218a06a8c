package idempotency_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/retry"
)

func TestTransportAddsKey(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rt := idempotency.Transport(roundTripper(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		got = append(got, r.Method+" "+r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	}))
	for _, m := range []string{"POST", "PATCH", "PUT", "GET"} {
		r, _ := http.NewRequest(m, "http://127.0.0.1/", nil)
		if _, err := rt.RoundTrip(r); err != nil {
			t.Fatal(err)
		}
		if r.Header.Get("Idempotency-Key") != "" {
			t.Fatal("the caller's request was modified")
		}
	}
	r, _ := http.NewRequest("POST", "http://127.0.0.1/", nil)
	r.Header.Set("Idempotency-Key", `"mine"`)
	rt.RoundTrip(r)
	for i, want := range []bool{true, true, false, false} {
		k := strings.TrimPrefix(got[i], strings.SplitN(got[i], " ", 2)[0]+" ")
		if _, err := idempotency.ParseKey(k); (err == nil) != want || want && !strings.HasPrefix(k, `"`) {
			t.Errorf("%s: key %q", got[i], k)
		}
	}
	if got[4] != `POST "mine"` {
		t.Errorf("a key of the caller's was replaced: %s", got[4])
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportWithRetry is the pair end to end: a server whose first
// response is lost after the work was done (a 503 from a proxy in front
// of the guarded handler), and a client that retries the POST with one
// key. The work is done once and the client gets its response.
func TestTransportWithRetry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client http.RoundTripper
	}{
		{name: "idempotency.Transport outside retry.Transport", client: idempotency.Transport(retry.Transport(nil))},
		{name: "retry.WithIdempotencyKey", client: mustRetrier(t).Transport(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := idempotency.New("e2e", idempotency.WithRequired(true))
			var l launch
			guarded := mux(g, &l)
			var attempts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if attempts.Add(1) == 1 {
					guarded.ServeHTTP(httptest.NewRecorder(), r) // done, but the answer is lost
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				guarded.ServeHTTP(w, r)
			}))
			defer srv.Close()
			client := &http.Client{Transport: tc.client}
			defer client.CloseIdleConnections()
			resp, err := client.Post(srv.URL+"/instances", "application/json", strings.NewReader(`{"shape":"small"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(body), `"run":1`) {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
			}
			if l.runs.Load() != 1 || attempts.Load() != 2 {
				t.Fatalf("%d runs in %d attempts, want 1 in 2", l.runs.Load(), attempts.Load())
			}
		})
	}
}

func mustRetrier(t *testing.T) *retry.Retrier {
	r, err := retry.New("e2e", retry.WithIdempotencyKey())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
