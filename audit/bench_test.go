package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-go/paved/audit"
)

// discardSink accepts every batch at once, counting the events.
type discardSink struct{ n *atomic.Int64 }

func (discardSink) Name() string { return "discard" }
func (s discardSink) Write(_ context.Context, b []*audit.Event) error {
	if s.n != nil {
		s.n.Add(int64(len(b)))
	}
	return nil
}
func (discardSink) Close(context.Context) error { return nil }

// stallSink never finishes a Write before its context is done.
type stallSink struct{}

func (stallSink) Name() string { return "stall" }
func (stallSink) Write(ctx context.Context, _ []*audit.Event) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stallSink) Close(context.Context) error { return nil }

// nopWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware, not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	const body = `{"shape":"small","image":"ubuntu-24.04","password":"x"}`
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"i-1","ipAddress":"10.0.0.7"}`)
	})
	run := func(b *testing.B, h http.Handler, withBody bool) {
		b.ReportAllocs()
		w := &nopWriter{h: http.Header{}}
		req := httptest.NewRequest("POST", "/instances/i-1", nil)
		req.Pattern = "POST /instances/{id}"
		req.Header.Set("Content-Type", "application/json")
		rd := strings.NewReader(body)
		rc := io.NopCloser(rd)
		for b.Loop() {
			if withBody {
				rd.Reset(body)
				req.Body = rc
			}
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	// newEm reports the share of events the sink goroutine could not keep
	// up with (dropped/op): the request path never waits for it.
	newEm := func(b *testing.B, l audit.Level) *audit.Emitter {
		written := new(atomic.Int64)
		em, err := audit.New("bench", audit.WithSink(discardSink{written}), audit.WithLevel(l), audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			em.Close(context.Background())
			if l != audit.None {
				b.ReportMetric(1-float64(written.Load())/float64(b.N), "dropped/op")
			}
		})
		return em
	}
	b.Run("raw", func(b *testing.B) { run(b, handler, false) })
	b.Run("None", func(b *testing.B) { run(b, newEm(b, audit.None).Middleware(handler), false) })
	b.Run("Metadata", func(b *testing.B) { run(b, newEm(b, audit.Metadata).Middleware(handler), false) })
	b.Run("Metadata/sink-stalled", func(b *testing.B) {
		// The sink never returns: after its queue fills, every event is
		// dropped and counted. The request path does not wait for it.
		em, err := audit.New("bench", audit.WithSink(stallSink{}), audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			em.Close(ctx)
		})
		run(b, em.Middleware(handler), false)
	})
	b.Run("Request/raw", func(b *testing.B) { run(b, handler, true) })
	b.Run("Request", func(b *testing.B) { run(b, newEm(b, audit.Request).Middleware(handler), true) })
	b.Run("RequestResponse", func(b *testing.B) { run(b, newEm(b, audit.RequestResponse).Middleware(handler), true) })
}

func BenchmarkEmit(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		// A buffered channel with a consumer: the primitive underneath.
		ch := make(chan *audit.Event, audit.DefaultQueueSize)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		ev := &audit.Event{}
		b.ReportAllocs()
		for b.Loop() {
			select {
			case ch <- ev:
			default:
			}
		}
		close(ch)
		<-done
	})
	b.Run("paved", func(b *testing.B) {
		em, err := audit.New("bench", audit.WithSink(discardSink{}), audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			em.Emit(ctx, &audit.Event{Type: "com.example.x"})
		}
		b.StopTimer()
		em.Close(context.Background())
	})
	b.Run("paved/parallel", func(b *testing.B) {
		em, err := audit.New("bench", audit.WithSink(discardSink{}), audit.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				em.Emit(ctx, &audit.Event{Type: "com.example.x"})
			}
		})
		b.StopTimer()
		em.Close(context.Background())
	})
}
