// Command loadtest sends a bounded load to an HTTP endpoint on this
// machine and reports requests per second, the status codes and latency
// percentiles:
//
//	go run ./examples/loadtest -url http://127.0.0.1:8080/instances \
//		-n 20000 -c 32 -duration 30s -H 'X-API-Key: admin-key'
//
// It is bounded twice: it stops after -n requests or after -duration,
// whichever comes first, so a slow or stuck server cannot keep it running.
// Its -c workers share keep-alive connections (one per worker), read every
// response body to the end and follow no redirects (a 3xx is counted as
// it came).
//
// It targets loopback addresses only (127.0.0.0/8, ::1, localhost), and
// checks the address of every connection it opens, not just the URL's
// name: a load generator pointed at somebody else's service is a denial of
// service, and over a real network it measures the network rather than the
// server. -allow-remote lifts the restriction, for a test system of your
// own.
//
// -compare URL sends the same load to a second URL after the first and
// reports its rate as a share of the first's: the full gateway chain
// against a bare handler, say. Both runs share the machine with the
// servers and with whatever else runs, so run it more than once. For
// figures in one process, see BenchmarkGateway in package platform.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// headers collects repeated -H flags.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// config is what the flags say.
type config struct {
	url         string
	compare     string
	method      string
	body        string
	header      http.Header
	n           int
	c           int
	duration    time.Duration
	timeout     time.Duration
	allowRemote bool
}

func parse(args []string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	cfg := &config{header: http.Header{}}
	var hs headers
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080/instances", "the URL to request")
	fs.StringVar(&cfg.compare, "compare", "", "a second URL to send the same load to after -url, reporting its rate as a share of -url's")
	fs.StringVar(&cfg.method, "X", http.MethodGet, "the request method")
	fs.StringVar(&cfg.body, "d", "", "the request body (sent as application/json unless -H sets Content-Type)")
	fs.Var(&hs, "H", "a request header, 'Name: value' (repeatable)")
	fs.IntVar(&cfg.n, "n", 20000, "the number of requests to send")
	fs.IntVar(&cfg.c, "c", 32, "the number of concurrent workers (and connections)")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "the time cap: stop sending after this long")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "the time limit of one request")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		cfg.header.Add(name, strings.TrimSpace(value))
	}
	if cfg.body != "" && cfg.header.Get("Content-Type") == "" {
		cfg.header.Set("Content-Type", "application/json")
	}
	switch {
	case cfg.n < 1:
		return nil, errors.New("-n must be at least 1")
	case cfg.c < 1:
		return nil, errors.New("-c must be at least 1")
	case cfg.duration <= 0:
		return nil, errors.New("-duration must be positive")
	case cfg.timeout <= 0:
		return nil, errors.New("-timeout must be positive")
	}
	if err := checkURL("-url", cfg.url, cfg.allowRemote); err != nil {
		return nil, err
	}
	if cfg.compare != "" {
		if err := checkURL("-compare", cfg.compare, cfg.allowRemote); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// checkURL checks the URL of flag name: http or https, and loopback
// unless allowRemote.
func checkURL(name, raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s %q: want an http or https URL", name, raw)
	}
	if !allowRemote && !loopbackName(u.Hostname()) {
		return fmt.Errorf("%s %q: host %q is not a loopback address (127.0.0.1, ::1, localhost); -allow-remote sends load elsewhere", name, raw, u.Hostname())
	}
	return nil
}

// loopbackName reports whether host is localhost or a loopback IP.
func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// result is what a run measured.
type result struct {
	sent      int
	elapsed   time.Duration
	capped    bool // stopped by -duration before -n
	statuses  map[int]int
	errors    map[string]int
	latencies []time.Duration // of the requests that got a response, sorted
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parse(args, out)
	if err != nil {
		return err
	}
	res, err := load(ctx, cfg)
	if err != nil {
		return err
	}
	report(out, cfg, res)
	if cfg.compare == "" {
		return nil
	}
	other := *cfg
	other.url = cfg.compare
	res2, err := load(ctx, &other)
	if err != nil {
		return fmt.Errorf("-compare: %w", err)
	}
	fmt.Fprintln(out)
	report(out, &other, res2)
	fmt.Fprintf(out, "\ncompare   %s serves %.0f%% of the requests/s of %s\n", other.url, 100*res2.rate()/res.rate(), cfg.url)
	return nil
}

// rate is the run's requests per second.
func (r *result) rate() float64 { return float64(r.sent) / r.elapsed.Seconds() }

// load sends the requests.
func load(ctx context.Context, cfg *config) (*result, error) {
	dialer := &net.Dialer{Timeout: cfg.timeout, KeepAlive: 30 * time.Second}
	if !cfg.allowRemote {
		dialer.ControlContext = func(_ context.Context, network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.c,
		MaxIdleConnsPerHost: cfg.c,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       cfg.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()

	type worker struct {
		latencies []time.Duration
		statuses  map[int]int
		errors    map[string]int
	}
	workers := make([]worker, min(cfg.c, cfg.n))
	var tickets atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.latencies = make([]time.Duration, 0, cfg.n/len(workers)+1)
		w.statuses = map[int]int{}
		w.errors = map[string]int{}
		wg.Go(func() {
			for tickets.Add(1) <= int64(cfg.n) && ctx.Err() == nil {
				var body io.Reader
				if cfg.body != "" {
					body = strings.NewReader(cfg.body)
				}
				req, err := http.NewRequestWithContext(ctx, cfg.method, cfg.url, body)
				if err != nil {
					w.errors[err.Error()]++
					return
				}
				req.Header = cfg.header.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return // the time cap, or an interrupt: not the server's failure
					}
					w.errors[errorKind(err)]++
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil && ctx.Err() != nil {
					return
				}
				w.latencies = append(w.latencies, time.Since(t0))
				w.statuses[resp.StatusCode]++
				if err != nil {
					w.errors["reading the body: "+errorKind(err)]++
				}
			}
		})
	}
	wg.Wait()
	res := &result{elapsed: time.Since(start), statuses: map[int]int{}, errors: map[string]int{}}
	for _, w := range workers {
		res.latencies = append(res.latencies, w.latencies...)
		for s, k := range w.statuses {
			res.statuses[s] += k
		}
		for e, k := range w.errors {
			res.errors[e] += k
			res.sent += k
		}
	}
	res.sent += len(res.latencies)
	res.capped = res.sent < cfg.n
	slices.Sort(res.latencies)
	if len(res.latencies) == 0 && len(res.errors) > 0 {
		return res, fmt.Errorf("no request got a response: %s", firstError(res.errors))
	}
	return res, nil
}

// errorKind shortens a client error to what went wrong, without the URL,
// so that equal failures are counted together.
func errorKind(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func firstError(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys[0]
}

// percentile returns the nearest-rank p-th percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(p/100*float64(len(ds))+0.999999) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func report(out io.Writer, cfg *config, res *result) {
	fmt.Fprintf(out, "target    %s %s (-c %d)\n", cfg.method, cfg.url, cfg.c)
	stop := ""
	if res.capped {
		stop = fmt.Sprintf(" (stopped at the %s cap, %d of -n %d)", cfg.duration, res.sent, cfg.n)
	}
	fmt.Fprintf(out, "requests  %d in %s%s\n", res.sent, res.elapsed.Round(time.Millisecond), stop)
	fmt.Fprintf(out, "rate      %.1f requests/s\n", res.rate())
	codes := make([]int, 0, len(res.statuses))
	for s := range res.statuses {
		codes = append(codes, s)
	}
	slices.Sort(codes)
	var parts []string
	for _, s := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", s, res.statuses[s]))
	}
	fmt.Fprintf(out, "status    %s\n", strings.Join(parts, "  "))
	if len(res.errors) > 0 {
		kinds := make([]string, 0, len(res.errors))
		for e := range res.errors {
			kinds = append(kinds, e)
		}
		slices.Sort(kinds)
		for _, e := range kinds {
			fmt.Fprintf(out, "error     %d× %s\n", res.errors[e], e)
		}
	}
	ls := res.latencies
	if len(ls) > 0 {
		fmt.Fprintf(out, "latency   p50 %s  p90 %s  p99 %s  max %s\n",
			round(percentile(ls, 50)), round(percentile(ls, 90)), round(percentile(ls, 99)), round(ls[len(ls)-1]))
	}
}

// round keeps three significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
