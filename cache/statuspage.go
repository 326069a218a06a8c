package cache

import (
	"time"

	"github.com/paved-go/paved/internal/registry"
)

// Report is the Stats of a cache's row on the status page
// (registry.KindCache), for a Cache and a ResponseCache alike. It is read
// from the cache's own state when the page asks: the counters of Stats,
// and each shard's entry count and cost under its lock, held as briefly
// as Len holds it.
type Report struct {
	// Entries is the number of stored entries, expired and negative ones
	// included (a ResponseCache's Vary records too), out of MaxEntries.
	Entries    int `json:"entries"`
	MaxEntries int `json:"max_entries"`
	// Cost is the entries' total cost, out of MaxCost (0: no bound), in
	// CostUnit: "bytes" for a ResponseCache (bodies, keys and about 512
	// bytes of overhead each), "cost" for a Cache with WithMaxCost, and
	// "untracked" for a Cache without it, whose Cost is 0.
	Cost     int64  `json:"cost"`
	MaxCost  int64  `json:"max_cost,omitempty"`
	CostUnit string `json:"cost_unit"`
	// HitRatio is the share of Gets served from the cache (fresh, stale
	// or negative) since it was built; HitRatioLastMin the same over the
	// last minute, the row's Value (HitRatio when no Get came in the last
	// minute).
	HitRatio        float64 `json:"hit_ratio"`
	HitRatioLastMin float64 `json:"hit_ratio_last_min"`
	// The counters of Stats.
	Hits         uint64 `json:"hits"`
	NegativeHits uint64 `json:"negative_hits"`
	StaleServed  uint64 `json:"stale_served"`
	Misses       uint64 `json:"misses"`
	Coalesced    uint64 `json:"coalesced"`
	Loads        uint64 `json:"loads"`
	LoadErrors   uint64 `json:"load_errors"`
	Evictions    uint64 `json:"evictions"`
	// LoadErrorsPerMin is the rate of failed loads over the last minute;
	// the row warns while it is above zero.
	LoadErrorsPerMin float64 `json:"load_errors_per_min"`
}

// cacheStatus is what a cache's report keeps between reports.
type cacheStatus struct {
	handle     *registry.Handle
	costUnit   string
	served     *registry.PerMinute // hits, negative hits and stale served
	gets       *registry.PerMinute
	loadErrors *registry.PerMinute
}

func newCacheStatus(costUnit string) *cacheStatus {
	now := time.Now()
	return &cacheStatus{costUnit: costUnit, served: registry.NewPerMinute(now),
		gets: registry.NewPerMinute(now), loadErrors: registry.NewPerMinute(now)}
}

// register adds c to the status registry under its name.
func (c *Cache[K, V]) register() {
	if !registry.Enabled() {
		return
	}
	unit := "untracked"
	if c.cost != nil {
		unit = "cost"
	}
	c.status = newCacheStatus(unit)
	c.status.handle = registry.Add(registry.KindCache, c.cfg.name, c, (*Cache[K, V]).report)
}

// register adds rc to the status registry under its name; its inner
// Cache, which is not registered itself, removes it on Close.
func (rc *ResponseCache) register() {
	if !registry.Enabled() {
		return
	}
	rc.c.status = newCacheStatus("bytes")
	rc.c.status.handle = registry.Add(registry.KindCache, rc.cfg.name, rc, func(rc *ResponseCache, dst []registry.Component) []registry.Component {
		return rc.c.report(dst)
	})
}

func (c *Cache[K, V]) report(dst []registry.Component) []registry.Component {
	st := c.status
	s := c.Stats()
	r := Report{
		MaxEntries: c.cfg.maxKeys, MaxCost: c.cfg.maxCost, CostUnit: st.costUnit,
		Hits: s.Hits, NegativeHits: s.NegativeHits, StaleServed: s.StaleServed, Misses: s.Misses,
		Coalesced: s.Coalesced, Loads: s.Loads, LoadErrors: s.LoadErrors, Evictions: s.Evictions,
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		r.Entries += sh.len
		r.Cost += sh.cost
		sh.mu.Unlock()
	}
	served := s.Hits + s.NegativeHits + s.StaleServed
	gets := served + s.Misses + s.Coalesced
	if gets > 0 {
		r.HitRatio = float64(served) / float64(gets)
	}
	now := time.Now()
	servedRate, getsRate := st.served.Observe(now, served), st.gets.Observe(now, gets)
	r.HitRatioLastMin = r.HitRatio
	if getsRate > 0 {
		r.HitRatioLastMin = servedRate / getsRate
	}
	r.LoadErrorsPerMin = st.loadErrors.Observe(now, s.LoadErrors)
	row := registry.Component{
		Kind: registry.KindCache, Name: c.cfg.name, State: "ok", Health: registry.HealthOK,
		Value: r.HitRatioLastMin, Unit: "hit ratio", Stats: r,
	}
	if r.LoadErrorsPerMin > 0 {
		row.State, row.Health = "load_errors", registry.HealthWarn
	}
	return append(dst, row)
}
