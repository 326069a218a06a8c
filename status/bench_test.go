package status_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/status"
)

// BenchmarkRegistered measures the hot paths of components built
// registered (status.SetRegistration on, the default) next to the same
// components built with registration off: a breaker's Do, and a
// rate-limit policy's Enforcer.Allow over a Keyed limiter. The status page
// reads them only when asked, so the two should not differ.
func BenchmarkRegistered(b *testing.B) {
	ctx := context.Background()
	build := func(on bool) (*breaker.Breaker, *ratelimit.Enforcer) {
		status.SetRegistration(on)
		defer status.SetRegistration(true)
		name := "bench-" + strconv.FormatBool(on)
		br, err := breaker.New(name, quiet)
		if err != nil {
			b.Fatal(err)
		}
		k, err := ratelimit.NewKeyed(1e9, 1e9)
		if err != nil {
			b.Fatal(err)
		}
		// The Enforcer is what a rate-limit policy registers.
		e, err := ratelimit.NewEnforcer(name, k)
		if err != nil {
			b.Fatal(err)
		}
		return br, e
	}
	offB, offK := build(false)
	onB, onK := build(true)
	for _, c := range []struct {
		name string
		br   *breaker.Breaker
		e    *ratelimit.Enforcer
	}{{"off", offB, offK}, {"registered", onB, onK}} {
		b.Run("breaker.Do/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.br.Do(ctx, succeed)
			}
		})
		b.Run("Enforcer.Allow/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.e.Allow(ctx, "GET /items", "10.0.0.1")
			}
		})
	}
}

type benchComponent struct{ n int }

type benchStats struct {
	Held  int `json:"held"`
	Drops int `json:"drops"`
}

// BenchmarkStatusJSON measures one status.json answer (snapshot, sample,
// encoding) with n components registered.
func BenchmarkStatusJSON(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			comps := make([]*benchComponent, n)
			for i := range comps {
				comps[i] = &benchComponent{n: i}
				reg := status.Register("bench", "c"+strconv.Itoa(i), comps[i], func(c *benchComponent, dst []status.Component) []status.Component {
					return append(dst, status.Component{Kind: "bench", Name: "c" + strconv.Itoa(c.n), State: "ok",
						Health: status.HealthOK, Value: float64(c.n), Unit: "items", Stats: benchStats{Held: c.n, Drops: 1}})
				})
				defer reg.Remove()
			}
			h, err := status.New()
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			r := httptest.NewRequest("GET", "/status.json", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
