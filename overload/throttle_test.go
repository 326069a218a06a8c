package overload_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/overload"
)

func fixed(u float64) overload.Option {
	return overload.WithRandom(func() float64 { return u })
}

// TestThrottleProbabilityFollowsFormula replays a fixed schedule of
// accepts ('A') and refusals ('R') and checks, before each request, that
// the rejection probability is max(0, (requests − K·accepts)/(requests+1))
// over what was counted so far, and that Allow rejects exactly when the
// injected draw is below it.
func TestThrottleProbabilityFollowsFormula(t *testing.T) {
	tests := []struct {
		name     string
		k        float64
		draw     float64
		schedule string
	}{
		{"all accepted", 2, 0, strings.Repeat("A", 50)},
		{"half refused stays open at K=2", 2, 0, strings.Repeat("AR", 40)},
		{"all refused, never-reject draw", 2, 0.9999999, strings.Repeat("R", 60)},
		{"all refused, draw 0.5", 2, 0.5, strings.Repeat("R", 60)},
		{"refusals then recovery", 2, 0.3, strings.Repeat("R", 40) + strings.Repeat("A", 80)},
		{"K=1 rejects at the first refusal", 1, 0, "AAAAR" + strings.Repeat("A", 10)},
		{"K=1.5 two thirds accepted", 1.5, 0.1, strings.Repeat("ARA", 30) + strings.Repeat("RRA", 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				th, err := overload.NewThrottle("backend", overload.WithK(tc.k), fixed(tc.draw))
				if err != nil {
					t.Fatal(err)
				}
				var requests, accepts, rejected float64
				for i, ev := range tc.schedule {
					want := math.Max(0, (requests-tc.k*accepts)/(requests+1))
					if got := th.Probability(); math.Abs(got-want) > 1e-12 {
						t.Fatalf("step %d: Probability() = %v, want %v (requests %v, accepts %v)", i, got, want, requests, accepts)
					}
					err := th.Allow(t.Context())
					requests++
					wantReject := want > 0 && tc.draw < want
					if (err != nil) != wantReject {
						t.Fatalf("step %d: Allow() = %v, want rejected %v at p = %v", i, err, wantReject, want)
					}
					if err != nil {
						if !errors.Is(err, overload.ErrThrottled) {
							t.Fatalf("step %d: Allow() = %v, want ErrThrottled", i, err)
						}
						rejected++
						continue
					}
					if ev == 'A' {
						th.Accept()
						accepts++
					} else {
						th.Refuse()
					}
					time.Sleep(100 * time.Millisecond) // well inside the window
				}
				r, a := th.Counts()
				if float64(r) != requests || float64(a) != accepts {
					t.Fatalf("Counts() = %d, %d; want %v, %v", r, a, requests, accepts)
				}
				t.Logf("%v requests, %v accepts, %v rejected locally", requests, accepts, rejected)
			})
		})
	}
}

func TestThrottleWindowExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th, err := overload.NewThrottle("backend", overload.WithThrottleWindow(time.Minute), fixed(0.9999999))
		if err != nil {
			t.Fatal(err)
		}
		for range 10 { // refused at t = 0
			if err := th.Allow(t.Context()); err != nil {
				t.Fatal(err)
			}
			th.Refuse()
		}
		time.Sleep(30 * time.Second)
		for range 4 { // accepted at t = 30 s
			if err := th.Allow(t.Context()); err != nil {
				t.Fatal(err)
			}
			th.Accept()
		}
		check := func(when string, wantR, wantA int64) {
			t.Helper()
			if r, a := th.Counts(); r != wantR || a != wantA {
				t.Fatalf("%s: Counts() = %d, %d; want %d, %d", when, r, a, wantR, wantA)
			}
		}
		check("at 30s", 14, 4)
		if p, want := th.Probability(), (14.0-8)/15; math.Abs(p-want) > 1e-12 {
			t.Fatalf("Probability() = %v, want %v", p, want)
		}
		time.Sleep(29 * time.Second) // t = 59 s: everything still inside
		check("at 59s", 14, 4)
		time.Sleep(2 * time.Second) // t = 61 s: the first bucket left the window
		check("at 61s", 4, 4)
		if p := th.Probability(); p != 0 {
			t.Fatalf("Probability() = %v after the refusals expired, want 0", p)
		}
		time.Sleep(time.Hour) // idle far longer than the window
		check("after an hour", 0, 0)
		if err := th.Allow(t.Context()); err != nil {
			t.Fatal(err)
		}
		check("sent, no answer yet", 0, 0)
		th.Refuse()
		check("one more", 1, 0)
	})
}

// noLeaks checks, after every other cleanup of t, that t leaves no
// goroutine behind.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// statusServer answers each request with the status in its "s" query
// parameter and counts the requests it receives.
func statusServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		code, _ := strconv.Atoi(r.URL.Query().Get("s"))
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestThrottleTransportCountsOnlyOverload(t *testing.T) {
	noLeaks(t)
	srv, _ := statusServer(t)
	tests := []struct {
		status int
		accept bool
	}{
		{200, true}, {204, true}, {400, true}, {401, true}, {404, true}, {409, true},
		{500, true}, {501, true}, {502, true}, {504, true},
		{429, false}, {503, false},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			th, err := overload.NewThrottle("backend", fixed(0.9999999))
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: th.Transport(srv.Client().Transport)}
			resp, err := c.Get(srv.URL + "/?s=" + strconv.Itoa(tc.status))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			wantA := int64(0)
			if tc.accept {
				wantA = 1
			}
			if r, a := th.Counts(); r != 1 || a != wantA {
				t.Fatalf("Counts() = %d, %d; want 1, %d", r, a, wantA)
			}
		})
	}
}

func TestThrottleTransportNeverSendsThrottled(t *testing.T) {
	noLeaks(t)
	srv, n := statusServer(t)
	// A draw of 0 rejects whenever the probability is above 0.
	th, err := overload.NewThrottle("backend", fixed(0))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: th.Transport(srv.Client().Transport)}
	defer c.CloseIdleConnections()
	resp, err := c.Get(srv.URL + "/?s=503")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := n.Load(); got != 1 {
		t.Fatalf("server saw %d requests, want 1", got)
	}
	for i := range 20 {
		body := &closeCounter{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/?s=200", body)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: sent, want throttled", i)
		}
		if !errors.Is(err, overload.ErrThrottled) {
			t.Fatalf("request %d: error %v, want ErrThrottled", i, err)
		}
		if body.closed.Load() == 0 {
			t.Fatalf("request %d: the body of a throttled request was not closed", i)
		}
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("server saw %d requests, want 1: a throttled request touched the network", got)
	}
	if r, a := th.Counts(); r != 21 || a != 0 {
		t.Fatalf("Counts() = %d, %d; want 21, 0", r, a)
	}
}

type closeCounter struct {
	io.Reader
	closed atomic.Int64
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

func TestNewThrottleOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []overload.Option
		want []string
	}{
		{"K below 1", []overload.Option{overload.WithK(0.5)}, []string{"WithK"}},
		{"K NaN", []overload.Option{overload.WithK(math.NaN())}, []string{"WithK"}},
		{"K infinite", []overload.Option{overload.WithK(math.Inf(1))}, []string{"WithK"}},
		{"window too short", []overload.Option{overload.WithThrottleWindow(time.Millisecond)}, []string{"WithThrottleWindow"}},
		{"nil random", []overload.Option{overload.WithRandom(nil)}, []string{"WithRandom"}},
		{"nil option", []overload.Option{nil}, []string{"option 0"}},
		{"every error at once", []overload.Option{overload.WithK(0), overload.WithThrottleWindow(0)}, []string{"WithK", "WithThrottleWindow"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th, err := overload.NewThrottle("x", tc.opts...)
			if err == nil || th != nil {
				t.Fatalf("NewThrottle = %v, %v; want an error", th, err)
			}
			for _, w := range tc.want {
				if !strings.HasPrefix(err.Error(), "overload: ") || !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := overload.NewThrottle("x", overload.WithK(3), overload.WithThrottleWindow(10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkThrottleAllow(b *testing.B) {
	b.Run("raw", func(b *testing.B) { // a buffered-channel semaphore, for scale
		sem := make(chan struct{}, 1)
		b.ReportAllocs()
		for b.Loop() {
			sem <- struct{}{}
			<-sem
		}
	})
	b.Run("paved", func(b *testing.B) {
		th, _ := overload.NewThrottle("backend")
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if th.Allow(ctx) == nil {
				th.Accept()
			}
		}
	})
}

func TestThrottleDecisionsMetric(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	th, err := overload.NewThrottle("inventory", overload.WithMeterProvider(mp), fixed(0))
	if err != nil {
		t.Fatal(err)
	}
	th.Allow(t.Context()) // p = 0: sent,
	th.Refuse()           // then refused
	th.Allow(t.Context()) // p = 1/2: throttled
	th.Allow(t.Context()) // p = 2/3: throttled
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.overload.throttle.decisions" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				name, _ := dp.Attributes.Value("paved.overload.name")
				d, _ := dp.Attributes.Value("decision")
				got[name.AsString()+"/"+d.AsString()] += dp.Value
			}
		}
	}
	if got["inventory/sent"] != 1 || got["inventory/throttled"] != 2 || len(got) != 2 {
		t.Fatalf("decisions = %v, want inventory/sent 1, inventory/throttled 2", got)
	}
}

func TestNilThrottleThrottlesNothing(t *testing.T) {
	srv, n := statusServer(t)
	var th *overload.Throttle
	c := &http.Client{Transport: th.Transport(srv.Client().Transport)}
	for range 3 {
		resp, err := c.Get(srv.URL + "/?s=503")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n.Load() != 3 || th.Probability() != 0 {
		t.Fatalf("server saw %d of 3 requests, probability %v", n.Load(), th.Probability())
	}
}

// TestThrottleInFlightDoesNotCount: requests still in flight count
// neither as requests nor as accepts, so a burst of slow calls from a cold
// start is never throttled before the backend refused anything.
func TestThrottleInFlightDoesNotCount(t *testing.T) {
	th, err := overload.NewThrottle("backend", fixed(0)) // rejects whenever p > 0
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 { // 100 calls sent, none answered yet
		if err := th.Allow(t.Context()); err != nil {
			t.Fatalf("call %d of a cold burst throttled: %v", i, err)
		}
	}
	if r, a := th.Counts(); r != 0 || a != 0 || th.Probability() != 0 {
		t.Fatalf("Counts() = %d, %d, Probability() = %v; want 0, 0, 0 while in flight", r, a, th.Probability())
	}
	for range 100 {
		th.Accept()
	}
	if r, a := th.Counts(); r != 100 || a != 100 {
		t.Fatalf("Counts() = %d, %d after the answers; want 100, 100", r, a)
	}
}
