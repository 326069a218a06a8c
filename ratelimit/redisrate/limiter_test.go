package redisrate_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/internal/redistest"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
)

// TestSharedBurst: two limiters of one name, each with its own client as
// two instances would have, share each key's bucket: together they allow
// exactly the burst, serially and concurrently.
func TestSharedBurst(t *testing.T) {
	s := redistest.Start(t)
	const burst = 50
	a := limiter(t, "shared", client(t, s), rate.Every(time.Hour), burst)
	b := limiter(t, "shared", client(t, s), rate.Every(time.Hour), burst)
	ctx := context.Background()

	t.Run("serial", func(t *testing.T) {
		allowed := 0
		for i := range 2 * burst {
			l := a
			if i%2 == 1 {
				l = b
			}
			if l.Allow(ctx, "serial").Allowed {
				allowed++
			}
		}
		if allowed != burst {
			t.Fatalf("allowed %d, want %d", allowed, burst)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			l := a
			if g%2 == 1 {
				l = b
			}
			wg.Go(func() {
				for range 20 {
					if l.Allow(ctx, "concurrent").Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if allowed.Load() != burst {
			t.Fatalf("allowed %d of 160, want %d", allowed.Load(), burst)
		}
	})
	t.Run("names apart", func(t *testing.T) {
		other := limiter(t, "other", client(t, s), rate.Every(time.Hour), 1)
		if !other.Allow(ctx, "serial").Allowed {
			t.Fatal("a limiter of another name shares a bucket")
		}
	})
}

// TestAllowN takes several tokens at once and reports what is left.
func TestAllowN(t *testing.T) {
	s := redistest.Start(t)
	l := limiter(t, "n", client(t, s), rate.Every(time.Hour), 10)
	ctx := context.Background()
	steps := []struct {
		n         int
		allowed   bool
		remaining int
	}{
		{4, true, 6},
		{0, true, 6},
		{7, false, 6},
		{6, true, 0},
		{11, false, 0},
	}
	for i, st := range steps {
		d := l.AllowN(ctx, "k", st.n)
		if d.Allowed != st.allowed || d.Remaining != st.remaining {
			t.Fatalf("step %d: AllowN(%d) = %+v, want allowed %v remaining %d", i, st.n, d, st.allowed, st.remaining)
		}
		if st.n > 10 && d.RetryAfter != rate.InfDuration {
			t.Fatalf("step %d: RetryAfter %v for more than the burst, want rate.InfDuration", i, d.RetryAfter)
		}
	}
}

// TestKeys: keys carry the prefix, the name and the key in a hash tag; a
// long key is hashed; each has a TTL of the time its bucket needs to
// refill, and vanishes once full.
func TestKeys(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	l := limiter(t, "api", c, 2, 2) // 500 ms a token
	long := strings.Repeat("x", 100)
	l.Allow(ctx, "203.0.113.7")
	l.Allow(ctx, long)
	custom := limiter(t, "api", c, 2, 2, redisrate.WithPrefix("svc:"))
	custom.AllowN(ctx, "tenant-1", 2)

	if got := keys(t, c, "paved:rl:api:{203.0.113.7}"); len(got) != 1 {
		t.Fatalf("keys for the short key = %q", got)
	}
	hashed := keys(t, c, "paved:rl:api:{#*}")
	if len(hashed) != 1 || len(hashed[0]) != len("paved:rl:api:{#}")+43 || strings.Contains(hashed[0], "xxx") {
		t.Fatalf("keys for the long key = %q, want one holding its digest", hashed)
	}
	if got := keys(t, c, "svc:api:{tenant-1}"); len(got) != 1 {
		t.Fatalf("keys with the prefix svc: = %q", got)
	}
	if all := keys(t, c, "*"); len(all) != 3 {
		t.Fatalf("keys = %q, want 3", all)
	}
	for _, k := range []string{"paved:rl:api:{203.0.113.7}", "svc:api:{tenant-1}"} {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := 500 * time.Millisecond
		if k == "svc:api:{tenant-1}" {
			want = time.Second
		}
		if ttl <= 0 || ttl > want {
			t.Fatalf("PTTL %s = %v, want in (0, %v]", k, ttl, want)
		}
	}
	// The buckets are full again within a second and their keys go: poll,
	// with a bound far above that.
	deadline := time.Now().Add(10 * time.Second)
	for len(keys(t, c, "*")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("keys left after 10 s: %q", keys(t, c, "*"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := custom.Allow(ctx, "tenant-1"); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after expiry: %+v, want a full bucket", d)
	}
}

// TestScriptFlushed: a Redis that lost its script cache (a restart, a
// failover, SCRIPT FLUSH) gets the script again by EVAL.
func TestScriptFlushed(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	ctx := context.Background()
	l := limiter(t, "flush", c, rate.Every(time.Hour), 2, redisrate.WithFallback(redisrate.FailClosed))
	l.Allow(ctx, "k")
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if d := l.Allow(ctx, "k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after SCRIPT FLUSH: %+v, want the shared bucket's last token", d)
	}
	if d := l.Allow(ctx, "k"); d.Allowed {
		t.Fatalf("after SCRIPT FLUSH: %+v, want limited", d)
	}
}

// TestInf: rate.Inf allows everything without calling Redis.
func TestInf(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	l := limiter(t, "inf", c, rate.Inf, 3)
	for range 10 {
		if d := l.Allow(context.Background(), "k"); !d.Allowed || d.Remaining != 3 {
			t.Fatalf("rate.Inf: %+v", d)
		}
	}
}

// TestEnforcer: the limiter serves a ratelimit.Enforcer, which
// ratelimitgrpc and other transports build on.
func TestEnforcer(t *testing.T) {
	s := redistest.Start(t)
	l := limiter(t, "grpc", client(t, s), rate.Every(time.Minute), 2)
	e, err := ratelimit.NewEnforcer("grpc", l)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		if err := e.Allow(ctx, "/svc/Method", "alice"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err = e.Allow(ctx, "/svc/Method", "alice")
	var le *ratelimit.LimitError
	if !errors.As(err, &le) || le.Policy != "grpc" || le.RetryAfter <= 59*time.Second || le.RetryAfter > time.Minute {
		t.Fatalf("third call: %v, want a *LimitError with RetryAfter about a minute", err)
	}
}

// TestHugeQuota: a bucket that would take longer to refill than Redis's
// largest expiry still gets one.
func TestHugeQuota(t *testing.T) {
	s := redistest.Start(t)
	c := client(t, s)
	l := limiter(t, "huge", c, rate.Limit(1e-12), 1000)
	if d := l.AllowN(context.Background(), "k", 1000); !d.Allowed {
		t.Fatalf("decision %+v", d)
	}
	ttl, err := c.PTTL(context.Background(), "paved:rl:huge:{k}").Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("PTTL = %v, %v; want an expiry", ttl, err)
	}
}

// TestNilLimiter: a nil *Limiter in a Policy lets requests through.
func TestNilLimiter(t *testing.T) {
	var l *redisrate.Limiter
	if _, err := l.Decide(context.Background(), "k", 1); err == nil {
		t.Fatal("Decide on a nil *Limiter: no error")
	}
	p, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "nil", Limiter: l, Key: ratelimit.Header("X-Client")},
		ratelimit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Client", "alice")
	p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
}

// TestBreakerFallbackIgnored: a fallback given to the breaker does not
// replace the limiter's.
func TestBreakerFallbackIgnored(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	l := limiter(t, "fb", c, rate.Every(time.Hour), 1, redisrate.WithFallback(redisrate.FailOpen),
		redisrate.WithLogger(slog.New(slog.DiscardHandler)),
		redisrate.WithBreaker(breaker.WithFallback(func(context.Context, error) error { return nil })))
	for range 3 {
		if d := l.Allow(context.Background(), "k"); !d.Allowed || d.Remaining != 1 {
			t.Fatalf("decision %+v, want FailOpen's", d)
		}
	}
}

func TestNewErrors(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer ok.Close()
	noDeadlines := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer noDeadlines.Close()
	tests := []struct {
		name   string
		lim    string
		client redis.UniversalClient
		limit  rate.Limit
		burst  int
		opts   []redisrate.Option
		want   string
	}{
		{"empty name", "", ok, 1, 1, nil, "name"},
		{"brace in name", "a{b", ok, 1, 1, nil, "name"},
		{"nil client", "x", nil, 1, 1, nil, "nil client"},
		{"nil *Client", "x", (*redis.Client)(nil), 1, 1, nil, "nil client"},
		{"client ignores deadlines", "x", noDeadlines, 1, 1, nil, "ContextTimeoutEnabled"},
		{"zero limit", "x", ok, 0, 1, nil, "limit"},
		{"zero burst", "x", ok, 1, 0, nil, "burst"},
		{"nil option", "x", ok, 1, 1, []redisrate.Option{nil}, "option 0 is nil"},
		{"zero timeout", "x", ok, 1, 1, []redisrate.Option{redisrate.WithTimeout(0)}, "WithTimeout"},
		{"unknown fallback", "x", ok, 1, 1, []redisrate.Option{redisrate.WithFallback(7)}, "WithFallback"},
		{"brace in prefix", "x", ok, 1, 1, []redisrate.Option{redisrate.WithPrefix("a{")}, "WithPrefix"},
		{"zero max keys", "x", ok, 1, 1, []redisrate.Option{redisrate.WithMaxKeys(0)}, "WithMaxKeys"},
		{"bad breaker option", "x", ok, 1, 1, []redisrate.Option{redisrate.WithBreaker(breaker.WithOpenDuration(-1))}, "WithBreaker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := redisrate.New(tc.lim, tc.client, tc.limit, tc.burst, tc.opts...)
			if err == nil || l != nil {
				t.Fatalf("New = %v, %v; want an error", l, err)
			}
			if !strings.HasPrefix(err.Error(), "redisrate: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want the prefix redisrate: and %q", err, tc.want)
			}
		})
	}
}

// TestPolicies: the limiter serves ratelimit.NewPolicies unchanged; two
// middlewares, as on two instances, share the limit, and a limited
// request gets 429 with Retry-After and the RateLimit headers.
func TestPolicies(t *testing.T) {
	s := redistest.Start(t)
	var servers []*httptest.Server
	for range 2 {
		l := limiter(t, "api", client(t, s), rate.Every(time.Minute), 3)
		p, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: l, Key: ratelimit.Header("X-Client")})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
	}
	get := func(srv *httptest.Server) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Client", "alice")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, want := range []string{`"api";r=2;t=60`, `"api";r=1;t=120`, `"api";r=0;t=180`} {
		resp := get(servers[i%2])
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != want {
			t.Fatalf("request %d: %d RateLimit %q, want 200 %q", i, resp.StatusCode, resp.Header.Get("RateLimit"), want)
		}
	}
	resp := get(servers[1])
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("4th request: %d Retry-After %q, want 429 and 60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := resp.Header.Get("RateLimit-Policy"); got != `"api";q=3;w=180` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
}
