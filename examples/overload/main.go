// Command overload runs an overload drill on loopback: a server whose
// capacity is fixed (a modelled CPU of -slots slots, each request holding
// one for -service), offered load stepping 0.5× → 3× → 0.5× of capacity,
// once unprotected and once behind a protection that sheds sheddable
// requests first. It prints, for each run, goodput (successes within
// -slo) during 3× as a share of capacity, the p99 of admitted requests
// against the unloaded p99, the success rates of critical and sheddable
// requests during 3×, and the recovery time: how long after the overload
// ends the last request not served within the SLO is answered.
//
//	go run ./examples/overload -phase 5s
//
// The protections are Protections (handler wrappers; those that know
// classes read the X-Criticality header): "cap+classes" is capGuard, a
// concurrency cap told the capacity that lets critical requests queue
// while sheddable ones are shed, the reference; "bulkhead" is
// overload.Bulkhead's middleware with the capacity as its cap and as
// many queued requests, which knows no classes; "limiter" is
// overload.Limiter's middleware, which discovers the capacity from the
// latency it measures and sheds sheddable requests first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	cfg := Config{}
	flag.IntVar(&cfg.Slots, "slots", 8, "concurrent requests the modelled CPU serves")
	flag.DurationVar(&cfg.Service, "service", 20*time.Millisecond, "time one request holds a slot")
	flag.DurationVar(&cfg.Phase, "phase", 2*time.Second, "length of each load step (0.5x, 3x, 0.5x)")
	flag.DurationVar(&cfg.SLO, "slo", 100*time.Millisecond, "latency objective: slower successes are not goodput")
	flag.DurationVar(&cfg.Timeout, "timeout", 2*time.Second, "client timeout")
	flag.Float64Var(&cfg.CriticalShare, "critical", 0.2, "share of requests marked critical")
	flag.Parse()
	if cfg.Slots < 1 || cfg.Service <= 0 || cfg.Phase <= 0 || cfg.SLO <= 0 || cfg.CriticalShare < 0 || cfg.CriticalShare > 1 {
		fmt.Fprintln(os.Stderr, "overload: bad flags")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Printf("capacity %.0f req/s (%d slots x %v), steps %v x %v, SLO %v\n",
		cfg.Capacity(), cfg.Slots, cfg.Service, Steps, cfg.Phase, cfg.SLO)
	bulkhead, err := bulkheadGuard(cfg.Slots, cfg.Slots)
	if err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
	limiter, err := limiterGuard(cfg.Slots, cfg.Service)
	if err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
	for _, run := range []struct {
		name    string
		protect Protection
	}{
		{"unprotected", nil},
		{"cap+classes", capGuard(cfg.Slots, cfg.Slots)},
		{"bulkhead", bulkhead},
		{"limiter", limiter},
	} {
		res, err := Run(ctx, run.name, cfg, run.protect)
		if err != nil {
			fmt.Fprintln(os.Stderr, "overload:", err)
			os.Exit(1)
		}
		fmt.Println(res)
	}
}
