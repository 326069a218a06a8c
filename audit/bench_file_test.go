package audit_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paved-go/paved/audit"
)

// benchEvent is an event of about 650 bytes of JSON, the size of a
// Metadata-level audit event.
func benchEvent(b *testing.B) *audit.Event {
	e := sinkEvent(b, "/gateway", 1, 0)
	base, _ := json.Marshal(e)
	return sinkEvent(b, "/gateway", 1, 650-len(base))
}

// BenchmarkFileSink measures sustained events/s into a file with an
// fsync per commit, and the p99 time from Write to durable, with many
// concurrent writers of one event each, and with one writer of batches
// of 100 (an Emitter's worker). raw is a write and fsync per event, which
// group commit exists to avoid.
func BenchmarkFileSink(b *testing.B) {
	e := benchEvent(b)
	line, _ := json.Marshal(e)
	b.Logf("event: %d bytes of JSON", len(line))
	report := func(b *testing.B, events int, lat []time.Duration) {
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		if len(lat) > 0 {
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
	parallel := func(b *testing.B, write func(ctx context.Context) error) {
		var mu sync.Mutex
		var all []time.Duration
		b.SetParallelism(64)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			var lat []time.Duration
			for pb.Next() {
				start := time.Now()
				if err := write(ctx); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
		b.StopTimer()
		report(b, b.N, all)
	}

	b.Run("raw", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var mu sync.Mutex
		parallel(b, func(context.Context) error {
			l, err := json.Marshal(e)
			if err != nil {
				return err
			}
			l = append(l, '\n')
			mu.Lock()
			defer mu.Unlock()
			if _, err := f.Write(l); err != nil {
				return err
			}
			return f.Sync()
		})
	})
	for _, tc := range []struct {
		name string
		opts []audit.FileOption
	}{
		{"paved", nil},
		{"paved-chain", []audit.FileOption{audit.WithHashChain()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := audit.NewFileSink(filepath.Join(b.TempDir(), "audit.jsonl"), tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			batch := []*audit.Event{e}
			parallel(b, func(ctx context.Context) error { return s.Write(ctx, batch) })
		})
		b.Run(tc.name+"-batch100", func(b *testing.B) {
			s, err := audit.NewFileSink(filepath.Join(b.TempDir(), "audit.jsonl"), tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			batch := make([]*audit.Event, 100)
			for i := range batch {
				batch[i] = e
			}
			ctx := context.Background()
			var lat []time.Duration
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				start := time.Now()
				if err := s.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				n += len(batch)
			}
			report(b, n, lat)
		})
	}
}
