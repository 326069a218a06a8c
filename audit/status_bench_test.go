package audit_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/internal/registry"
)

// stalledSink blocks every Write until Close's context ends, so its
// queue stays full and every Emit drops.
type stalledSink struct{ discardSink }

func (stalledSink) Write(ctx context.Context, _ []*audit.Event) error {
	<-ctx.Done()
	return ctx.Err()
}

// BenchmarkEmitStatus measures Emit with the emitter registered on the
// status page and not: "written" with a sink that keeps up, whose worker
// counts each batch for the page, and "dropped" with a stalled sink,
// where Emit counts the drop.
func BenchmarkEmitStatus(b *testing.B) {
	for _, bc := range []struct {
		name string
		sink audit.Sink
	}{
		{"written", discardSink{}},
		{"dropped", stalledSink{}},
	} {
		for _, registered := range []bool{false, true} {
			name := bc.name + "/unregistered"
			if registered {
				name = bc.name + "/registered"
			}
			b.Run(name, func(b *testing.B) {
				registry.SetEnabled(registered)
				defer registry.SetEnabled(true)
				em, err := audit.New("bench", audit.WithSink(bc.sink),
					audit.WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					em.Emit(ctx, &audit.Event{Type: "com.example.x"})
				}
				b.StopTimer()
				cctx, cancel := context.WithCancel(context.Background())
				cancel()
				em.Close(cctx)
			})
		}
	}
}
