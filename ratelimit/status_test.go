package ratelimit_test

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/internal/registry/registrytest"
	"github.com/paved-go/paved/ratelimit"
)

// statusRows returns the status page's rows of the name.
func statusRows(name string) []registry.Component {
	return registrytest.Rows(registry.KindRateLimit, name)
}

func statusRow(t *testing.T, name string) (registry.Component, ratelimit.PolicyReport) {
	t.Helper()
	return registrytest.Row[ratelimit.PolicyReport](t, registry.KindRateLimit, name)
}

// wantJSON checks the JSON the status page serves for row.
func wantJSON(t *testing.T, row registry.Component, want string) {
	t.Helper()
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func enforcer(t *testing.T, name string, lim ratelimit.Decider, opts ...ratelimit.Option) *ratelimit.Enforcer {
	t.Helper()
	e, err := ratelimit.NewEnforcer(name, lim, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestStatusLimiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := enforcer(t, "status-limiting", keyed(t, rate.Every(time.Hour), 2))
		ctx := context.Background()
		for range 2 {
			if err := e.Allow(ctx, "GET /", "a"); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if err := e.Allow(ctx, "GET /", "a"); err == nil {
				t.Fatal("third request allowed")
			}
		}
		if err := e.Allow(ctx, "GET /", "b"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		row, r := statusRow(t, "status-limiting")
		want := ratelimit.PolicyReport{Limiter: "keyed", Limit: float64(rate.Every(time.Hour)), Burst: 2,
			Keys: 2, MaxKeys: ratelimit.DefaultMaxKeys, Rejected: 3, RejectedPerMin: 6}
		if r != want {
			t.Errorf("stats\n got %+v\nwant %+v", r, want)
		}
		if row.State != "limiting" || row.Health != registry.HealthWarn || row.Value != 6 || row.Unit != "rejections/min" || row.Key != "" {
			t.Errorf("row = %+v, want limiting, warn, 6 rejections/min", row)
		}
		wantJSON(t, row, `{"kind":"ratelimit","name":"status-limiting","state":"limiting","health":"warn","value":6,`+
			`"unit":"rejections/min","stats":{"limiter":"keyed","limit":0.0002777777777777778,"burst":2,"keys":2,`+
			`"max_keys":100000,"overflows":0,"overflow_per_min":0,"overflow_in_use":false,"rejected":3,"rejected_per_min":6}}`)

		// A minute without rejections: the policy is back to ok.
		time.Sleep(90 * time.Second)
		row, r = statusRow(t, "status-limiting")
		if row.State != "ok" || row.Health != registry.HealthOK || row.Value != 0 || r.Rejected != 3 {
			t.Errorf("a minute later: row = %+v, want ok with 0 rejections/min and 3 in all", row)
		}
		runtime.KeepAlive(e)
	})
}

func TestStatusOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, err := ratelimit.NewKeyed(rate.Every(time.Hour), 1, ratelimit.WithMaxKeys(1))
		if err != nil {
			t.Fatal(err)
		}
		e := enforcer(t, "status-overflow", k, ratelimit.WithDryRun(true))
		ctx := context.Background()
		e.Allow(ctx, "GET /", "a") // a holds the one place, and is refilling
		e.Allow(ctx, "GET /", "a") // limited, let through by the dry run
		e.Allow(ctx, "GET /", "b") // no room: b shares the overflow bucket
		time.Sleep(time.Minute)
		row, r := statusRow(t, "status-overflow")
		want := ratelimit.PolicyReport{Limiter: "keyed", Limit: float64(rate.Every(time.Hour)), Burst: 1,
			Keys: 1, MaxKeys: 1, Overflows: 1, OverflowPerMin: 1, OverflowInUse: true,
			Rejected: 1, RejectedPerMin: 1, DryRun: true}
		if r != want {
			t.Errorf("stats\n got %+v\nwant %+v", r, want)
		}
		if row.State != "overflow" || row.Health != registry.HealthWarn || row.Value != 1 {
			t.Errorf("row = %+v, want overflow, warn, 1 rejection/min", row)
		}
		runtime.KeepAlive(e)
	})
}

func TestStatusPolicies(t *testing.T) {
	single, err := ratelimit.New(10, 5)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "status-policies", Limiter: keyed(t, 100, 20)},
		ratelimit.WithRoute("GET /search", ratelimit.Policy{Name: "status-policies", Limiter: single}),
		ratelimit.WithRoute("GET /health", ratelimit.Policy{}))
	if err != nil {
		t.Fatal(err)
	}
	rows := statusRows("status-policies")
	if len(rows) != 2 {
		t.Fatalf("%d rows, want the default policy's and one route's: %+v", len(rows), rows)
	}
	for i, want := range []struct {
		key, limiter string
		limit        float64
		burst        int
	}{{"", "keyed", 100, 20}, {"GET /search", "single", 10, 5}} {
		r := rows[i].Stats.(ratelimit.PolicyReport)
		if rows[i].Key != want.key || r.Limiter != want.limiter || r.Limit != want.limit || r.Burst != want.burst || rows[i].State != "ok" {
			t.Errorf("row %d = %+v, want key %q, a %s limiter of %v/s, burst %d", i, rows[i], want.key, want.limiter, want.limit, want.burst)
		}
	}
	runtime.KeepAlive(ps)
}

// externalDecider is a Decider that is neither a Keyed nor a Limiter,
// as a limiter on Redis is.
type externalDecider struct{}

func (externalDecider) Decide(context.Context, string, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true}, nil
}
func (externalDecider) Quota() ratelimit.Quota { return ratelimit.Quota{Limit: 50, Burst: 10} }

func TestStatusExternalLimiter(t *testing.T) {
	e := enforcer(t, "status-external", externalDecider{})
	_, r := statusRow(t, "status-external")
	want := ratelimit.PolicyReport{Limiter: "external", Limit: 50, Burst: 10}
	if r != want {
		t.Errorf("stats\n got %+v\nwant %+v", r, want)
	}
	runtime.KeepAlive(e)
}

func TestStatusRegistration(t *testing.T) {
	t.Run("limiters alone are not registered", func(t *testing.T) {
		before := len(registry.Snapshot())
		l, _ := ratelimit.New(1, 1)
		k := keyed(t, 1, 1)
		if after := len(registry.Snapshot()); after != before {
			t.Errorf("%d rows after building a Limiter and a Keyed, want %d", after, before)
		}
		runtime.KeepAlive(l)
		runtime.KeepAlive(k)
	})
	t.Run("registration off", func(t *testing.T) {
		registry.SetEnabled(false)
		e := enforcer(t, "status-off", keyed(t, 1, 1))
		registry.SetEnabled(true)
		if rows := statusRows("status-off"); len(rows) != 0 {
			t.Errorf("built with registration off, yet reported: %+v", rows)
		}
		runtime.KeepAlive(e)
	})
	t.Run("unreachable drops out", func(t *testing.T) {
		func() {
			e := enforcer(t, "status-dropped", keyed(t, 1, 1))
			if len(statusRows("status-dropped")) != 1 {
				t.Fatal("not registered")
			}
			runtime.KeepAlive(e)
		}()
		for i := 0; i < 10 && len(statusRows("status-dropped")) > 0; i++ {
			runtime.GC()
		}
		if rows := statusRows("status-dropped"); len(rows) != 0 {
			t.Errorf("unreachable policy still reported: %+v", rows)
		}
	})
}

// TestStatusUnderTraffic reports while requests go on, for the race
// detector.
func TestStatusUnderTraffic(t *testing.T) {
	e := enforcer(t, "status-traffic", keyed(t, 1000, 10))
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			keys := []string{"a", "b", "c"}
			for i := range 2000 {
				e.Allow(ctx, "GET /", keys[(g+i)%len(keys)])
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			statusRows("status-traffic")
		}
	}()
	wg.Wait()
	<-done
	if _, r := statusRow(t, "status-traffic"); r.Keys != 3 {
		t.Errorf("keys = %d, want 3", r.Keys)
	}
}
