package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/paved-go/paved"
)

// The platform gives each operation a response cache of its own, and no
// way for one operation to drop another's entries: terminating an
// instance cannot invalidate the cached GET /instances/{id}. The gateway
// does it from outside: a successful terminate marks the instance, and
// its next read is sent on with Cache-Control: no-cache (RFC 9111 section
// 5.2.1.4), so the cache asks the upstream and stores the new state
// instead of answering from the old one. Marks are per process, as the
// caches are.

// staleMarks are the instances whose cached read is out of date.
type staleMarks struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// markTTL bounds how long a mark waits for a read: longer than any cached
// copy lives (gateway.yaml: ttl 2s, then 10s stale-while-revalidate).
const markTTL = time.Minute

// maxMarks bounds the marks kept; beyond it expired marks and then
// arbitrary ones are dropped, each costing at most a stale read.
const maxMarks = 10_000

func newStaleMarks() *staleMarks { return &staleMarks{since: map[string]time.Time{}} }

func (m *staleMarks) mark(id string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.since) >= maxMarks {
		for k, t := range m.since {
			if now.Sub(t) > markTTL || len(m.since) >= maxMarks {
				delete(m.since, k)
			}
		}
	}
	m.since[id] = now
}

// take reports whether id is marked, and clears the mark.
func (m *staleMarks) take(id string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.since[id]
	if ok {
		delete(m.since, id)
	}
	return ok && now.Sub(t) <= markTTL
}

// invalidates marks the instance in the path when next succeeds.
func (m *staleMarks) invalidates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := paved.NewResponseWriter(w)
		next.ServeHTTP(rw, r)
		if s := rw.Status(); s >= 200 && s < 400 {
			m.mark(r.PathValue("id"), time.Now())
		}
	})
}

// revalidates sends a marked instance's read on with no-cache.
func (m *staleMarks) revalidates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.take(r.PathValue("id"), time.Now()) {
			r = r.Clone(r.Context())
			r.Header.Set("Cache-Control", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}
