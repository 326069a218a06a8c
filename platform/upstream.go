package platform

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/retry"
	"github.com/paved-go/paved/tracing"
)

type upstreamSection struct {
	URL     string `json:"url"`
	Breaker *struct {
		FailureRate float64 `json:"failureRate"`
		MinCalls    int     `json:"minCalls"`
		OpenFor     string  `json:"openFor"`
		SlowCall    string  `json:"slowCall"`
	} `json:"breaker"`
	Retry *struct {
		Attempts   int    `json:"attempts"`
		Backoff    string `json:"backoff"`
		MaxBackoff string `json:"maxBackoff"`
	} `json:"retry"`
}

var (
	errUpstream        = httpx.NewError(http.StatusBadGateway, "platform: upstream call failed")
	errUpstreamTimeout = httpx.NewError(http.StatusGatewayTimeout, "platform: upstream call timed out")
)

// proxy builds the reverse proxy of an operation with an upstream:
// httputil.ReverseProxy over retry, tracing, breaker and the base
// transport, retry outside the breaker so an open breaker ends the
// retries at once.
func (b *builder) proxy(op *operation) http.Handler {
	v, ok := op.section("upstream")
	if !ok || op.bad["upstream"] {
		return nil
	}
	var s upstreamSection
	if err := decode(v, &s); err != nil {
		b.add(op.at("/upstream"), err.Error())
		return nil
	}
	if s.URL == "" {
		b.add(op.at("/upstream"), "upstream needs a url")
		return nil
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		b.add(op.at("/upstream/url"), "url "+quote(s.URL)+" is not an http or https URL without query")
		return nil
	}
	c := b.c
	bopts := []breaker.Option{breaker.WithLogger(c.logger), breaker.WithMeterProvider(c.meterProvider)}
	if br := s.Breaker; br != nil {
		if br.FailureRate != 0 || br.MinCalls != 0 {
			rate, min := br.FailureRate, br.MinCalls
			if rate == 0 {
				rate = breaker.DefaultFailureRate
			}
			if min == 0 {
				min = 10
			}
			bopts = append(bopts, breaker.WithFailureRate(rate, min))
		}
		if br.OpenFor != "" {
			d, ok := b.duration(op.at("/upstream/breaker/openFor"), br.OpenFor)
			if !ok {
				return nil
			}
			bopts = append(bopts, breaker.WithOpenDuration(d))
		}
		if br.SlowCall != "" {
			d, ok := b.duration(op.at("/upstream/breaker/slowCall"), br.SlowCall)
			if !ok {
				return nil
			}
			bopts = append(bopts, breaker.WithSlowCallThreshold(d))
		}
	}
	if c.fallback != nil {
		bopts = append(bopts, breaker.WithTransportFallback(c.fallback))
	}
	ropts := []retry.Option{retry.WithLogger(c.logger), retry.WithMeterProvider(c.meterProvider)}
	if rt := s.Retry; rt != nil {
		if rt.Attempts != 0 {
			ropts = append(ropts, retry.WithMaxAttempts(rt.Attempts))
		}
		base, max := 100*time.Millisecond, 10*time.Second
		if rt.Backoff != "" {
			if base, ok = b.duration(op.at("/upstream/retry/backoff"), rt.Backoff); !ok {
				return nil
			}
		}
		if rt.MaxBackoff != "" {
			if max, ok = b.duration(op.at("/upstream/retry/maxBackoff"), rt.MaxBackoff); !ok {
				return nil
			}
		}
		if max < base {
			max = base
		}
		ropts = append(ropts, retry.WithBackoff(retry.FullJitter(base, max)))
	}
	if op.ID == "" {
		return nil
	}
	brk, err := breaker.New(op.ID, bopts...)
	if err != nil {
		b.add(op.at("/upstream/breaker"), err.Error())
		return nil
	}
	r, err := retry.New(op.ID, ropts...)
	if err != nil {
		b.add(op.at("/upstream/retry"), err.Error())
		return nil
	}
	tr := c.tracer
	if tr == nil {
		tr = tracing.Default()
	}
	logger := c.log()
	layer := func(rt http.RoundTripper) http.RoundTripper { return rt }
	if c.upstreamWrap != nil {
		layer = c.upstreamWrap
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: r.Transport(tr.Transport(layer(brk.Transport(c.transport)))),
		ModifyResponse: func(resp *http.Response) error {
			// The platform's tracing set the correlation header already;
			// the upstream's copy would repeat it.
			resp.Header.Del(tr.Header())
			return nil
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Every path writes a status of the error vocabulary: returning
		// without writing would be an implicit 200.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if cerr := r.Context().Err(); cerr != nil {
				httpx.WriteError(w, r, cerr)
				return
			}
			if _, ok := errors.AsType[httpx.StatusCoder](err); ok {
				httpx.WriteError(w, r, err) // an open breaker: 503 with Retry-After
				return
			}
			logger.LogAttrs(r.Context(), slog.LevelWarn, "platform: upstream call failed",
				slog.String("operation", op.ID), slog.String("error", err.Error()))
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				httpx.WriteError(w, r, errUpstreamTimeout)
				return
			}
			httpx.WriteError(w, r, errUpstream)
		},
	}
}
