package redisidempotency_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/internal/redistest"
)

// BenchmarkStore compares the store's calls with a PING (raw: a round
// trip, the least a call to Redis costs), serially and from 16
// goroutines (b.SetParallelism(8) on 2 cores) over one client, against a
// local redis-server:
//
//   - begin: Begin on a new key, which claims it (SET NX PX in a script);
//   - begin+complete: what a request with a new key costs the store, two
//     round trips: Begin, then Complete with a response of 201, two
//     headers and a 256-byte body;
//   - replay: Begin on a completed key, which returns the stored response
//     (what a retry costs);
//   - get: Get of a completed key.
func BenchmarkStore(b *testing.B) {
	srv := redistest.Start(b)
	c := client(b, srv)
	s := store(b, c)
	ctx := context.Background()
	var next atomic.Int64
	key := func() string { return "k" + strconv.FormatInt(next.Add(1), 36) }
	const lockTTL, ttl = 10 * time.Second, time.Minute
	begun := &idempotency.Record{Token: "0f8fad5b-d9cb-469f-a165-70867728950e", Fingerprint: "2c26b46b68ffc68ff99b453c1d304134"}
	done := &idempotency.Record{Token: begun.Token, Fingerprint: begun.Fingerprint, Done: true, Response: idempotency.Response{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/instances/i-42"}},
		Body:   bytes.Repeat([]byte("x"), 256),
	}}
	const stored = "stored"
	if _, err := s.Begin(ctx, stored, begun, lockTTL); err != nil {
		b.Fatal(err)
	}
	if err := s.Complete(ctx, stored, done, time.Hour); err != nil {
		b.Fatal(err)
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"raw", func() error { return c.Ping(ctx).Err() }},
		{"begin", func() error {
			existing, err := s.Begin(ctx, key(), begun, lockTTL)
			if err == nil && existing != nil {
				b.Error("a new key was taken")
			}
			return err
		}},
		{"begin+complete", func() error {
			k := key()
			if _, err := s.Begin(ctx, k, begun, lockTTL); err != nil {
				return err
			}
			return s.Complete(ctx, k, done, ttl)
		}},
		{"replay", func() error {
			existing, err := s.Begin(ctx, stored, begun, lockTTL)
			if err == nil && (existing == nil || !existing.Done) {
				b.Error("no stored response")
			}
			return err
		}},
		{"get", func() error {
			_, err := s.Get(ctx, stored)
			return err
		}},
	}
	for _, o := range ops {
		b.Run("serial/"+o.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := o.op(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
	for _, o := range ops {
		b.Run("parallel/"+o.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := o.op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
