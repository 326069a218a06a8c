package platform

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/paved-go/paved/cache"
)

type cacheSection struct {
	TTL                  string   `json:"ttl"`
	StaleWhileRevalidate string   `json:"staleWhileRevalidate"`
	Vary                 []string `json:"vary"`
}

// duration parses a duration value of the document at ptr.
func (b *builder) duration(ptr, s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.add(ptr, "duration "+quote(s)+" is not a positive Go duration such as 500ms, 30s or 1m")
		return 0, false
	}
	return d, true
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// responseCache builds the response cache of a GET operation, and the
// middleware that adds the vary names to its responses' Vary.
func (b *builder) responseCache(op *operation, timeout time.Duration) func(http.Handler) http.Handler {
	v, ok := op.section("cache")
	if !ok || op.bad["cache"] {
		return nil
	}
	if op.Method != http.MethodGet && op.Method != http.MethodHead {
		// A default from the root or path item applies to reads only.
		if strings.HasPrefix(op.at("/cache"), op.Pointer+"/") {
			b.add(op.at("/cache"), "cache applies to GET and HEAD operations only")
		}
		return nil
	}
	var s cacheSection
	if err := decode(v, &s); err != nil {
		b.add(op.at("/cache"), err.Error())
		return nil
	}
	opts := []cache.Option{cache.WithLogger(b.c.logger), cache.WithMeterProvider(b.c.meterProvider)}
	if s.TTL != "" {
		d, ok := b.duration(op.at("/cache/ttl"), s.TTL)
		if !ok {
			return nil
		}
		opts = append(opts, cache.WithTTL(d))
	}
	if s.StaleWhileRevalidate != "" {
		d, ok := b.duration(op.at("/cache/staleWhileRevalidate"), s.StaleWhileRevalidate)
		if !ok {
			return nil
		}
		opts = append(opts, cache.WithStaleWhileRevalidate(d))
	}
	if timeout > 0 {
		opts = append(opts, cache.WithLoadTimeout(timeout))
	}
	if op.ID == "" {
		return nil
	}
	rc, err := cache.NewResponseCache(op.ID, opts...)
	if err != nil {
		b.add(op.at("/cache"), err.Error())
		return nil
	}
	b.closers = append(b.closers, func(context.Context) error { return rc.Close() })
	vary := strings.Join(s.Vary, ", ")
	return func(next http.Handler) http.Handler {
		if vary != "" {
			inner := next
			next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Vary", vary)
				inner.ServeHTTP(w, r)
			})
		}
		return rc.Middleware(next)
	}
}

// timeout returns the operation's timeout, 0 for none.
func (b *builder) timeout(op *operation) time.Duration {
	v, ok := op.section("timeout")
	if !ok || op.bad["timeout"] {
		return 0
	}
	s, _ := v.(string)
	d, _ := b.duration(op.at("/timeout"), s)
	return d
}
