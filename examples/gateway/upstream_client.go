package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/redisbreaker"
)

// The gateway's calls to the upstream: each proxied operation of
// gateway.yaml goes through the platform's stack, outermost first,
//
//	retry    GETs again on transport errors, 502/503/504 (never POSTs)
//	tracing  a client span per attempt, traceparent and the correlation id
//	breaker  one per operation; rejects at once while the upstream is
//	         failing, and answers GET /instances from the last good list
//	         instead (platform.WithUpstreamFallback)
//
// and then through the transport built here (platform.WithTransport):
//
//	shared   with -redis only: a breaker whose state every gateway on
//	         that Redis shares (the platform's breakers are per process)
//	lastGood remembers the last good lists
//	base     the connection pool
//
// Retry sits outside the breaker, so an open breaker ends the retries at
// once.

// fallbackHeader flags a response served from the last good answer.
const fallbackHeader = "X-Paved-Fallback"

type upstreamConfig struct {
	base         http.RoundTripper
	logger       *slog.Logger
	openDuration time.Duration
	// rdb, when set (-redis), shares a breaker's state with every
	// gateway on that Redis: one gateway's trip protects the others.
	rdb redis.UniversalClient
}

// newUpstreamTransport returns the transport under the platform's
// per-operation stack, and the fallback that serves the last good lists.
func newUpstreamTransport(cfg upstreamConfig) (http.RoundTripper, func(*http.Request, error) (*http.Response, error), error) {
	lg, err := newLastGood(cfg.base, 64)
	if err != nil {
		return nil, nil, err
	}
	if cfg.rdb == nil {
		return lg, lg.fallback, nil
	}
	store, err := redisbreaker.NewStore(cfg.rdb)
	if err != nil {
		return nil, nil, err
	}
	// Shared state counts over a time window (the last-N-calls window
	// is per process): the failure rate of the last 10 s, in 10 buckets,
	// across every gateway, half of at least 5 calls: a lower threshold
	// than gateway.yaml's per-operation breakers (half of at least 10),
	// so that it is open for every gateway by the time one of them opens
	// its own. The fault switch is not the API: it is not counted,
	// so it works while the breaker is open.
	br, err := breaker.New("upstream",
		breaker.WithLogger(cfg.logger),
		breaker.WithOpenDuration(cfg.openDuration),
		breaker.WithFailureRate(0.5, 5),
		breaker.WithSlowCallThreshold(2*time.Second),
		breaker.WithSharedState(store),
		breaker.WithTimeWindow(10*time.Second, 10),
		breaker.WithFilter(func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/admin/") }))
	if err != nil {
		return nil, nil, err
	}
	return br.Transport(lg), lg.fallback, nil
}

// lastGood remembers the last 200 answer to each GET /instances query (at
// most max of them, least recently used first out) and serves it as the
// breaker's fallback.
type lastGood struct {
	next    http.RoundTripper
	answers *lru.Cache[string, goodAnswer]
}

type goodAnswer struct {
	body   []byte
	header http.Header
	at     time.Time
}

func newLastGood(next http.RoundTripper, max int) (*lastGood, error) {
	answers, err := lru.New[string, goodAnswer](max)
	if err != nil {
		return nil, err
	}
	return &lastGood{next: next, answers: answers}, nil
}

func remembered(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/instances"
}

func (lg *lastGood) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := lg.next.RoundTrip(r)
	if err != nil || !remembered(r) || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) <= 1<<20 { // larger lists are passed on, not remembered
		lg.answers.Add(r.URL.RequestURI(), goodAnswer{body: body, header: resp.Header.Clone(), at: time.Now()})
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// fallback answers a rejected or failed GET /instances with the last good
// list for the same query, flagged by X-Paved-Fallback and aged by Age; for
// anything else it keeps the original outcome.
func (lg *lastGood) fallback(r *http.Request, cause error) (*http.Response, error) {
	if !remembered(r) {
		return nil, nil
	}
	a, ok := lg.answers.Get(r.URL.RequestURI())
	if !ok {
		return nil, nil
	}
	h := a.header.Clone()
	h.Set(fallbackHeader, cause.Error())
	h.Set("Age", strconv.Itoa(int(time.Since(a.at)/time.Second)))
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: r,
	}, nil
}
