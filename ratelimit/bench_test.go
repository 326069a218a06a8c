package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

// The limits below are generous, so the benchmarks measure the allowed
// path, the one every request takes; the limited ones measure a bucket
// that is always empty.
const (
	benchLimit = rate.Limit(1e9)
	benchBurst = 1 << 20
)

var sinkDecision ratelimit.Decision
var sinkBool bool

func BenchmarkAllow(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit rate.Limit
		burst int
	}{
		{"allowed", benchLimit, benchBurst},
		{"limited", rate.Every(1e9), 1},
	} {
		b.Run(bc.name+"/raw", func(b *testing.B) {
			lim := rate.NewLimiter(bc.limit, bc.burst)
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = lim.Allow()
			}
		})
		b.Run(bc.name+"/paved", func(b *testing.B) {
			l, _ := ratelimit.New(bc.limit, bc.burst)
			b.ReportAllocs()
			for b.Loop() {
				sinkDecision = l.Allow()
			}
		})
	}
}

const benchKeys = 10_000

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "198.51." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	return keys
}

// mapLimiter is the raw primitive: a mutex-guarded map of rate.Limiters.
type mapLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (m *mapLimiter) allow(key string) bool {
	m.mu.Lock()
	lim, ok := m.m[key]
	if !ok {
		lim = rate.NewLimiter(benchLimit, benchBurst)
		m.m[key] = lim
	}
	m.mu.Unlock()
	return lim.Allow()
}

func BenchmarkAllowKeyed(b *testing.B) {
	keys := benchKeyNames()
	newRaw := func() *mapLimiter {
		m := &mapLimiter{m: make(map[string]*rate.Limiter, benchKeys)}
		for _, k := range keys {
			m.allow(k)
		}
		return m
	}
	newPaved := func() *ratelimit.Keyed {
		k, _ := ratelimit.NewKeyed(benchLimit, benchBurst)
		for _, key := range keys {
			k.Allow(key)
		}
		return k
	}
	b.Run("serial/raw", func(b *testing.B) {
		m := newRaw()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sinkBool = m.allow(keys[i%benchKeys])
			i++
		}
	})
	b.Run("serial/paved", func(b *testing.B) {
		k := newPaved()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sinkDecision = k.Allow(keys[i%benchKeys])
			i++
		}
	})
	var worker atomic.Int64 // spreads the goroutines over the keys
	b.Run("parallel/raw", func(b *testing.B) {
		m := newRaw()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(7919))
			ok := false
			for pb.Next() {
				ok = m.allow(keys[i%benchKeys])
				i++
			}
			sinkBool = ok
		})
	})
	b.Run("parallel/paved", func(b *testing.B) {
		k := newPaved()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(7919))
			var d ratelimit.Decision
			for pb.Next() {
				d = k.Allow(keys[i%benchKeys])
				i++
			}
			sinkBool = d.Allowed
		})
	})
}

// discard is a ResponseWriter that keeps nothing, reused across
// iterations so that only the middleware's own allocations show.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	run := func(b *testing.B, h http.Handler) {
		r := httptest.NewRequest("GET", "/instances", nil)
		r.RemoteAddr = "198.51.100.7:40000"
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	}
	paved := func(b *testing.B, lim ratelimit.Decider, opts ...ratelimit.Option) http.Handler {
		p, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: lim}, opts...)
		if err != nil {
			b.Fatal(err)
		}
		return p.Middleware(handler)
	}
	one, _ := ratelimit.New(benchLimit, benchBurst)
	perIP, _ := ratelimit.NewKeyed(benchLimit, benchBurst)
	b.Run("raw", func(b *testing.B) { run(b, handler) })
	b.Run("paved/one-bucket/headers=off", func(b *testing.B) { run(b, paved(b, one, ratelimit.WithHeaders(false))) })
	b.Run("paved/one-bucket/headers=on", func(b *testing.B) { run(b, paved(b, one)) })
	b.Run("paved/per-IP/headers=off", func(b *testing.B) { run(b, paved(b, perIP, ratelimit.WithHeaders(false))) })
	b.Run("paved/per-IP/headers=on", func(b *testing.B) { run(b, paved(b, perIP)) })
}

var sinkKey string

func BenchmarkClientIP(b *testing.B) {
	lb := ratelimit.Proxies{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	fwd := ratelimit.Proxies{Trusted: lb.Trusted, Header: ratelimit.Forwarded}
	for _, bc := range []struct {
		name   string
		key    ratelimit.KeyFunc
		remote string
		header string
		value  string
	}{
		{"RemoteAddr/IPv4", ratelimit.ClientIP, "198.51.100.7:40000", "", ""},
		{"RemoteAddr/IPv6", ratelimit.ClientIP, "[2001:db8::7]:40000", "", ""},
		{"X-Forwarded-For", lb.ClientIP, "10.0.0.5:40000", "X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.9"},
		{"Forwarded", fwd.ClientIP, "10.0.0.5:40000", "Forwarded", `for=6.6.6.6, for="198.51.100.7:1234";proto=https, for=10.0.0.9`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = bc.remote
			if bc.header != "" {
				r.Header.Set(bc.header, bc.value)
			}
			b.ReportAllocs()
			for b.Loop() {
				sinkKey, _ = bc.key(r)
			}
		})
	}
}
