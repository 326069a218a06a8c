package overload

import (
	"errors"
	"net/http"
	"sync"
)

// tenantShare caps each tenant's requests in flight through a Limiter's
// Middleware to a share of the limit. Only tenants with requests in
// flight have an entry, so the map is bounded by the limit.
type tenantShare struct {
	key   func(*http.Request) string
	share float64
	mu    sync.Mutex
	n     map[string]int
}

// enter counts a request of tenant and reports whether it is within the
// tenant's share of limit.
func (ts *tenantShare) enter(tenant string, limit int64) bool {
	most := max(1, int(ts.share*float64(limit)))
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.n[tenant] >= most {
		return false
	}
	ts.n[tenant]++
	return true
}

func (ts *tenantShare) leave(tenant string) {
	ts.mu.Lock()
	if ts.n[tenant] <= 1 {
		delete(ts.n, tenant)
	} else {
		ts.n[tenant]--
	}
	ts.mu.Unlock()
}

// WithTenantShare caps each tenant's requests in flight through a
// Limiter's Middleware to maxShare of the current limit (at least one),
// so one tenant's burst cannot take the whole limit. key names a
// request's tenant (authz.PrincipalID's tenant, an API key, a header);
// requests with an empty key are not capped. A request over its tenant's
// share is shed like one over the limit.
func WithTenantShare(key func(*http.Request) string, maxShare float64) Option {
	return newOption("WithTenantShare", forLimiter, func(c *config) error {
		if key == nil {
			return errors.New("overload: WithTenantShare: nil key function")
		}
		if !(maxShare > 0 && maxShare <= 1) {
			return errors.New("overload: WithTenantShare: share must be in (0, 1]")
		}
		c.limiter.tenant = &tenantShare{key: key, share: maxShare, n: make(map[string]int)}
		return nil
	})
}
