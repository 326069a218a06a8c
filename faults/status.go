package faults

import (
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// ruleStat is one rule on the status page.
type ruleStat struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Percent  float64 `json:"percent"`
	Injected uint64  `json:"injected"`
	Rule     Rule    `json:"rule"`
}

// stats is an injector's Stats on the status page.
type stats struct {
	Injected uint64     `json:"injected"`
	Rules    []ruleStat `json:"rules"`
}

// report is the injector's status row: active while rules are set (a
// warning: failures are being made on purpose), off otherwise, and the
// injections per minute.
func report(inj *Injector, dst []registry.Component) []registry.Component {
	total := inj.total.Load()
	c := registry.Component{
		Kind:   registry.KindFaults,
		Name:   inj.name,
		State:  "off",
		Health: registry.HealthOK,
		Value:  inj.rate.Observe(time.Now(), total),
		Unit:   "injections/min",
	}
	rules := inj.ruleCounts()
	if len(rules) > 0 {
		c.State, c.Health = "active", registry.HealthWarn
	}
	c.Stats = stats{Injected: total, Rules: rules}
	return append(dst, c)
}
