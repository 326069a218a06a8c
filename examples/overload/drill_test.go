package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDrill runs a tiny drill, unprotected and protected. It checks what
// does not depend on the machine's speed: every offered request is
// measured, the unprotected server sheds nothing, and the protection
// sheds and favours critical requests over sheddable ones. The figures
// are logged; `go run .` prints longer, steadier runs.
func TestDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about six seconds")
	}
	cfg := Config{
		Slots:         4,
		Service:       20 * time.Millisecond,
		Phase:         400 * time.Millisecond,
		SLO:           100 * time.Millisecond,
		Timeout:       2 * time.Second,
		CriticalShare: 0.2,
	}
	un, err := Run(t.Context(), "unprotected", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(un)
	pr, err := Run(t.Context(), "cap+classes", cfg, capGuard(cfg.Slots, cfg.Slots))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(pr)
	bulkhead, err := bulkheadGuard(cfg.Slots, cfg.Slots)
	if err != nil {
		t.Fatal(err)
	}
	bh, err := Run(t.Context(), "bulkhead", cfg, bulkhead)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(bh)
	limiter, err := limiterGuard(cfg.Slots, cfg.Service)
	if err != nil {
		t.Fatal(err)
	}
	li, err := Run(t.Context(), "limiter", cfg, limiter)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(li)
	if li.Shed == 0 {
		t.Errorf("limiter: nothing shed at 3x capacity")
	}
	if li.CriticalSuccess < li.SheddableSuccess {
		t.Errorf("limiter: critical success %.3f below sheddable %.3f", li.CriticalSuccess, li.SheddableSuccess)
	}
	if bh.Shed == 0 {
		t.Errorf("bulkhead: nothing shed at 3x capacity")
	}
	for _, r := range []Result{un, pr, bh, li} {
		if sent := r.Sent[0] + r.Sent[1] + r.Sent[2]; r.Answered != sent || sent != 40+240+40 {
			t.Errorf("%s: measured %d of %d requests, want all of 320", r.Name, r.Answered, sent)
		}
	}
	if un.Shed != 0 {
		t.Errorf("unprotected: %d requests shed, want 0", un.Shed)
	}
	if pr.Shed == 0 {
		t.Errorf("protected: nothing shed at 3x capacity")
	}
	if pr.CriticalSuccess < pr.SheddableSuccess {
		t.Errorf("protected: critical success %.3f below sheddable %.3f", pr.CriticalSuccess, pr.SheddableSuccess)
	}
}

func TestSummarize(t *testing.T) {
	cfg := Config{Slots: 1, Service: 100 * time.Millisecond, Phase: time.Second, SLO: 50 * time.Millisecond}
	ms := time.Millisecond
	records := []record{
		{step: 0, latency: 10 * ms, status: 200},
		{step: 1, latency: 20 * ms, status: 200, critical: true},
		{step: 1, latency: 30 * ms, status: 200},
		{step: 1, latency: 80 * ms, status: 200}, // too slow: not goodput
		{step: 1, latency: 1 * ms, status: 503},  // shed
		{step: 1, latency: 90 * ms, status: 0},   // timed out
		{step: 2, start: 100 * ms, latency: 10 * ms, status: 200},
		{step: 2, start: 200 * ms, latency: 70 * ms, status: 200}, // last bad one ends at 270 ms
		{step: 2, start: 300 * ms, latency: 10 * ms, status: 200},
	}
	var r Result
	summarize(&r, cfg, records)
	if r.GoodputShare != 0.2 { // 2 good of a capacity of 10 per phase
		t.Errorf("GoodputShare = %v, want 0.2", r.GoodputShare)
	}
	if r.CriticalSuccess != 1 || r.SheddableSuccess != 0.25 {
		t.Errorf("success critical %v sheddable %v, want 1 and 0.25", r.CriticalSuccess, r.SheddableSuccess)
	}
	if r.Shed != 1 || r.P99Unloaded != 10*ms || r.P99Admitted != 80*ms {
		t.Errorf("shed %d p99 %v / %v, want 1, 10ms / 80ms", r.Shed, r.P99Unloaded, r.P99Admitted)
	}
	if r.Recovery != 270*ms || !r.RecoveredInWindow {
		t.Errorf("recovery %v (%v), want 270ms within the window", r.Recovery, r.RecoveredInWindow)
	}
}
