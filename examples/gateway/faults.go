package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// faults is the upstream's fault switch, so a demo can show what the
// gateway's breaker and retries do when the upstream misbehaves:
//
//	curl -X POST .../admin/faults -d '{"failureRate":1}'      # every call fails
//	curl -X POST .../admin/faults -d '{"delay":"2s"}'         # every call is slow
//	curl -X DELETE .../admin/faults                           # healthy again
type faults struct {
	mu  sync.Mutex
	cfg faultConfig
}

type faultConfig struct {
	// FailureRate is the share of API calls answered 503, from 0 to 1.
	FailureRate float64 `json:"failureRate"`
	// Delay is added to every API call before it is served.
	Delay duration `json:"delay"`
}

// duration is a time.Duration that reads and writes as "250ms" in JSON.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`a duration such as "250ms" or "2s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q", s)
	}
	*d = duration(v)
	return nil
}

func (f *faults) get() faultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

func (f *faults) set(cfg faultConfig) {
	f.mu.Lock()
	f.cfg = cfg
	f.mu.Unlock()
}

// routes registers the admin endpoints on mux.
func (f *faults) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.get())
	})
	mux.HandleFunc("POST /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var cfg faultConfig
		if status, err := decodeJSON(w, r, &cfg); err != nil {
			writeProblem(w, r, status, err.Error())
			return
		}
		if cfg.FailureRate < 0 || cfg.FailureRate > 1 || cfg.Delay < 0 || time.Duration(cfg.Delay) > time.Minute {
			writeProblem(w, r, http.StatusBadRequest, `"failureRate" must be within 0..1 and "delay" within 0..1m`)
			return
		}
		f.set(cfg)
		writeJSON(w, http.StatusOK, cfg)
	})
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		f.set(faultConfig{})
		writeJSON(w, http.StatusOK, faultConfig{})
	})
}

// inject wraps an API handler with the configured faults.
func (f *faults) inject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := f.get()
		if cfg.Delay > 0 {
			if err := sleep(r.Context(), time.Duration(cfg.Delay)); err != nil {
				return // the caller gave up
			}
		}
		if cfg.FailureRate > 0 && rand.Float64() < cfg.FailureRate {
			writeProblem(w, r, http.StatusServiceUnavailable, "injected fault")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
