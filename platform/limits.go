package platform

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/ratelimit"
)

type rateLimitSection struct {
	Rate   any    `json:"rate"`
	Burst  int    `json:"burst"`
	Key    string `json:"key"`
	Policy string `json:"policy"`
}

// quota is a parsed rate limit.
type quota struct {
	count int
	per   time.Duration
	burst int
	key   string
}

// parseRate reads "100/m", "10/s", "20/30s" or {rate: 100, per: 1m}.
func parseRate(v any) (count int, per time.Duration, err error) {
	switch r := v.(type) {
	case string:
		n, unit, ok := strings.Cut(r, "/")
		c, cerr := strconv.Atoi(n)
		if !ok || cerr != nil || c < 1 {
			return 0, 0, errors.New("rate " + strconv.Quote(r) + " is not count/period with a positive count, such as 100/m")
		}
		if unit != "" && (unit[0] < '0' || unit[0] > '9') && unit[0] != '.' {
			unit = "1" + unit
		}
		d, derr := time.ParseDuration(unit)
		if derr != nil || d <= 0 {
			return 0, 0, errors.New("rate " + strconv.Quote(r) + ": period is not a positive duration (s, m, h, 30s)")
		}
		return c, d, nil
	case map[string]any:
		c, _ := r["rate"].(float64)
		ps, _ := r["per"].(string)
		d, derr := time.ParseDuration(ps)
		if c < 1 || c != math.Trunc(c) || c > math.MaxInt32 {
			return 0, 0, errors.New("rate.rate must be a positive integer")
		}
		if derr != nil || d <= 0 {
			return 0, 0, errors.New("rate.per " + strconv.Quote(ps) + " is not a positive duration")
		}
		return int(c), d, nil
	case nil:
		return 0, 0, errors.New("rateLimit needs a rate")
	}
	return 0, 0, errors.New("rate must be a string or an object")
}

// limits compiles the rateLimit sections into one ratelimit.Policies.
type limits struct {
	b        *builder
	byName   map[string]ratelimit.Decider
	quotas   map[string]quota
	where    map[string]string
	routes   []ratelimit.Option
	limited  map[*operation]bool
	policies *ratelimit.Policies
}

func newLimits(b *builder) *limits {
	return &limits{b: b, byName: map[string]ratelimit.Decider{}, quotas: map[string]quota{},
		where: map[string]string{}, limited: map[*operation]bool{}}
}

func (l *limits) compile(op *operation) {
	v, ok := op.section("rateLimit")
	if !ok || op.bad["rateLimit"] {
		return
	}
	var s rateLimitSection
	if err := decode(v, &s); err != nil {
		l.b.add(op.at("/rateLimit"), err.Error())
		return
	}
	count, per, err := parseRate(s.Rate)
	if err != nil {
		l.b.add(op.at("/rateLimit/rate"), err.Error())
		return
	}
	q := quota{count: count, per: per, burst: s.Burst, key: s.Key}
	if q.burst == 0 {
		q.burst = count
	}
	if q.key == "" {
		q.key = "ip"
	}
	name := s.Policy
	if name == "" {
		name = op.ID
	}
	if name == "" || op.Pattern == "" {
		return
	}
	if prev, ok := l.quotas[name]; ok {
		if prev != q {
			l.b.add(op.at("/rateLimit"), "policy "+strconv.Quote(name)+" is defined differently at "+l.where[name])
		}
	} else {
		limit := rate.Limit(float64(count) / per.Seconds())
		var k ratelimit.Decider
		var err error
		if l.b.c.newLimiter != nil {
			k, err = l.b.c.newLimiter(name, limit, q.burst)
		} else {
			k, err = ratelimit.NewKeyed(limit, q.burst)
		}
		if err != nil {
			l.b.add(op.at("/rateLimit"), err.Error())
			return
		}
		l.byName[name], l.quotas[name], l.where[name] = k, q, op.at("/rateLimit")
	}
	l.routes = append(l.routes, ratelimit.WithRoute(op.Pattern, ratelimit.Policy{Name: name, Limiter: l.byName[name], Key: l.keyFunc(q.key)}))
	l.limited[op] = true
}

func (l *limits) keyFunc(key string) ratelimit.KeyFunc {
	switch {
	case key == "apiKey":
		return ratelimit.APIKey
	case key == "principal":
		return ratelimit.Principal(authz.PrincipalID)
	case strings.HasPrefix(key, "header:"):
		return ratelimit.Header(strings.TrimPrefix(key, "header:"))
	}
	if l.b.c.clientIP != nil {
		return l.b.c.clientIP
	}
	return ratelimit.ClientIP
}

func (l *limits) build() {
	if len(l.routes) == 0 {
		return
	}
	opts := append([]ratelimit.Option{
		ratelimit.WithAnonymousKey("anonymous"),
		ratelimit.WithLogger(l.b.c.logger),
		ratelimit.WithMeterProvider(l.b.c.meterProvider),
	}, l.routes...)
	ps, err := ratelimit.NewPolicies(ratelimit.Policy{}, opts...)
	if err != nil {
		l.b.add("", err.Error())
		return
	}
	l.policies = ps
}

func (l *limits) middleware(op *operation) func(http.Handler) http.Handler {
	if l.policies == nil || !l.limited[op] {
		return nil
	}
	return l.policies.Middleware
}
