package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// ClassHeader carries a request's criticality in the drill: "critical" or
// "sheddable".
const ClassHeader = "X-Criticality"

// Config is one drill: a server of fixed capacity and an offered load
// stepping 0.5× → 3× → 0.5× of it.
type Config struct {
	Slots         int           // concurrent requests the modelled CPU serves
	Service       time.Duration // time one request holds a slot
	Phase         time.Duration // length of each load step
	SLO           time.Duration // a success slower than this is not goodput
	Timeout       time.Duration // the client gives up after this long
	CriticalShare float64       // share of requests marked critical
}

// Capacity is the server's throughput in requests per second.
func (c Config) Capacity() float64 { return float64(c.Slots) / c.Service.Seconds() }

// Steps are the offered loads, as multiples of capacity.
var Steps = []float64{0.5, 3, 0.5}

// Protection wraps the server's handler: nil runs the server unprotected.
// A protection reads the class from ClassHeader and sheds with 503 (or
// 429).
type Protection func(http.Handler) http.Handler

type record struct {
	step     int
	start    time.Duration // since the step began
	latency  time.Duration
	status   int // 0: transport error or client timeout
	critical bool
}

// Result is what one drill measured.
type Result struct {
	Name              string
	Sent              [3]int        // requests offered per step
	Answered          int           // requests measured (answered, failed or timed out)
	GoodputShare      float64       // successes within SLO during 3×, as a share of capacity
	P99Unloaded       time.Duration // p99 of successes during the first 0.5× step
	P99Admitted       time.Duration // p99 of successes during 3×
	CriticalSuccess   float64       // share of critical requests during 3× that succeeded within SLO
	SheddableSuccess  float64       // the same for sheddable requests
	Shed              int           // 503/429 answers during 3×
	Recovery          time.Duration // after 3× ends, start of the last request not served within SLO
	RecoveredInWindow bool          // false: requests still failed at the end of the last step
}

func (r Result) String() string {
	return fmt.Sprintf("%-12s goodput@3x %5.1f%% of capacity | p99 unloaded %7v admitted@3x %7v (%.1fx) | critical %5.1f%% sheddable %5.1f%% | shed %4d | recovery %v%s",
		r.Name, 100*r.GoodputShare, r.P99Unloaded.Round(100*time.Microsecond), r.P99Admitted.Round(100*time.Microsecond),
		float64(r.P99Admitted)/float64(max(r.P99Unloaded, 1)), 100*r.CriticalSuccess, 100*r.SheddableSuccess, r.Shed,
		r.Recovery.Round(time.Millisecond), map[bool]string{true: "", false: " (not recovered)"}[r.RecoveredInWindow])
}

// cpu is a server whose capacity is fixed: each request holds one of a
// fixed number of slots for the service time, and waits in line for a
// slot otherwise, whatever its client does meanwhile, as CPU-bound work
// does.
type cpu struct {
	slots   chan struct{}
	service time.Duration
	stop    chan struct{} // closed at the end of the drill: frees the waiters
}

func (c *cpu) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case c.slots <- struct{}{}:
	case <-c.stop:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	t := time.NewTimer(c.service)
	select {
	case <-t.C:
	case <-c.stop:
		t.Stop()
	}
	<-c.slots
	w.WriteHeader(http.StatusOK)
}

// Run runs one drill against a loopback server wrapped in protect (nil:
// unprotected) and measures it.
func Run(ctx context.Context, name string, cfg Config, protect Protection) (Result, error) {
	c := &cpu{slots: make(chan struct{}, cfg.Slots), service: cfg.Service, stop: make(chan struct{})}
	var h http.Handler = c
	if protect != nil {
		h = protect(h)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(lis)
	}()
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	url := "http://" + lis.Addr().String() + "/"

	var (
		mu      sync.Mutex
		records []record
		wg      sync.WaitGroup
		res     = Result{Name: name}
	)
	critEvery := 0
	if cfg.CriticalShare > 0 {
		critEvery = int(1/cfg.CriticalShare + 0.5)
	}
	n := 0
	for step, mult := range Steps {
		rate := mult * cfg.Capacity()
		count := int(rate * cfg.Phase.Seconds())
		res.Sent[step] = count
		begin := time.Now()
		for i := range count {
			at := time.Duration(float64(i) / rate * float64(time.Second))
			if d := at - time.Since(begin); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					close(c.stop)
					srv.Close()
					<-served
					wg.Wait()
					return Result{}, ctx.Err()
				}
			}
			critical := critEvery > 0 && n%critEvery == 0
			n++
			wg.Go(func() {
				start := time.Since(begin)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if critical {
					req.Header.Set(ClassHeader, "critical")
				} else {
					req.Header.Set(ClassHeader, "sheddable")
				}
				t0 := time.Now()
				status := 0
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				rec := record{step: step, start: start, latency: time.Since(t0), status: status, critical: critical}
				mu.Lock()
				records = append(records, rec)
				mu.Unlock()
			})
		}
		if d := cfg.Phase - time.Since(begin); d > 0 {
			time.Sleep(d)
		}
	}
	wg.Wait()
	close(c.stop)
	err = srv.Close()
	<-served
	tr.CloseIdleConnections()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return res, err
	}
	summarize(&res, cfg, records)
	return res, nil
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[(len(ds)*99)/100]
}

func summarize(res *Result, cfg Config, records []record) {
	var unloaded, admitted []time.Duration
	var good, crit, critOK, shed, sheddable, sheddableOK int
	res.RecoveredInWindow = true
	res.Answered = len(records)
	for _, r := range records {
		ok := r.status == http.StatusOK && r.latency <= cfg.SLO
		switch r.step {
		case 0:
			if r.status == http.StatusOK {
				unloaded = append(unloaded, r.latency)
			}
		case 1:
			if r.status == http.StatusOK {
				admitted = append(admitted, r.latency)
			}
			if r.status == http.StatusServiceUnavailable || r.status == http.StatusTooManyRequests {
				shed++
			}
			if ok {
				good++
			}
			if r.critical {
				crit++
				if ok {
					critOK++
				}
			} else {
				sheddable++
				if ok {
					sheddableOK++
				}
			}
		case 2:
			if !ok && r.start+r.latency > res.Recovery {
				res.Recovery = r.start + r.latency
			}
		}
	}
	// The last step ended before its last bad answer: not recovered in time.
	if res.Recovery >= cfg.Phase {
		res.RecoveredInWindow = false
	}
	res.GoodputShare = float64(good) / (cfg.Capacity() * cfg.Phase.Seconds())
	res.P99Unloaded = p99(unloaded)
	res.P99Admitted = p99(admitted)
	res.Shed = shed
	if crit > 0 {
		res.CriticalSuccess = float64(critOK) / float64(crit)
	}
	if sheddable > 0 {
		res.SheddableSuccess = float64(sheddableOK) / float64(sheddable)
	}
}
