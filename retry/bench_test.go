package retry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sony/gobreaker/v2"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

//go:noinline
func work(context.Context) error { return nil }

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	r, err := retry.New("test") // defaults, with the default budget
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = work(ctx)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, work)
		}
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = work(ctx)
			}
		})
	})
	b.Run("paved-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = r.Do(ctx, work)
			}
		})
	})
}

func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	settings := gobreaker.Settings{
		Name:        "raw",
		MaxRequests: breaker.DefaultProbes,
		Timeout:     breaker.DefaultOpenDuration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= breaker.DefaultMinCalls && float64(c.TotalFailures) >= breaker.DefaultFailureRate*float64(c.Requests)
		},
	}
	raw := gobreaker.NewCircuitBreaker[struct{}](settings)
	rawFn := func() (struct{}, error) { return struct{}{}, work(ctx) }

	br, err := breaker.New("paved")
	if err != nil {
		b.Fatal(err)
	}
	r, err := retry.New("test")
	if err != nil {
		b.Fatal(err)
	}
	through := func(ctx context.Context) error { return br.Do(ctx, work) }

	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = raw.Execute(rawFn)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Do(ctx, through)
		}
	})
}

func BenchmarkTransport(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	r, err := retry.New("test")
	if err != nil {
		b.Fatal(err)
	}
	tr := r.Transport(base)
	req := httptest.NewRequest(http.MethodGet, "http://upstream.test/", nil)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = base.RoundTrip(req)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = tr.RoundTrip(req)
		}
	})
}
