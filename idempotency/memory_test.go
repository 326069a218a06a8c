package idempotency_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/idempotencytest"
)

func TestMemoryStoreContract(t *testing.T) {
	ctx := context.Background()
	s, _ := idempotency.NewMemoryStore()
	rec := &idempotency.Record{Token: "t1", Fingerprint: "f"}
	if got, err := s.Begin(ctx, "k", rec, time.Minute); got != nil || err != nil {
		t.Fatalf("first Begin = %v, %v; want the key claimed", got, err)
	}
	got, err := s.Begin(ctx, "k", &idempotency.Record{Token: "t2", Fingerprint: "g"}, time.Minute)
	if err != nil || got == nil || got.Token != "t1" || got.Done {
		t.Fatalf("second Begin = %+v, %v; want the first's in-progress record", got, err)
	}
	done := &idempotency.Record{Token: "t2", Fingerprint: "f", Done: true, Response: idempotency.Response{Status: 201, Body: []byte("x")}}
	if err := s.Complete(ctx, "k", done, time.Hour); !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("Complete with another token = %v, want ErrNotHeld", err)
	}
	if err := s.Release(ctx, "k", "t2"); !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("Release with another token = %v, want ErrNotHeld", err)
	}
	done.Token = "t1"
	if err := s.Complete(ctx, "k", done, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "k", "t1"); !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("Release of a completed record = %v, want ErrNotHeld", err)
	}
	got, err = s.Get(ctx, "k")
	if err != nil || got == nil || !got.Done || got.Response.Status != 201 || string(got.Response.Body) != "x" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if got, _ := s.Get(ctx, "none"); got != nil {
		t.Fatalf("Get of a missing key = %+v", got)
	}
	if err := s.Complete(ctx, "none", done, time.Hour); !errors.Is(err, idempotency.ErrNotHeld) {
		t.Fatalf("Complete of a missing key = %v", err)
	}
}

func TestMemoryStoreBytes(t *testing.T) {
	ctx := context.Background()
	body := make([]byte, 1000)
	// Room for about three records of 1000 bytes (plus their overhead).
	s, _ := idempotency.NewMemoryStore(idempotency.WithMaxBytes(4000))
	complete := func(key string) {
		t.Helper()
		if _, err := s.Begin(ctx, key, &idempotency.Record{Token: key}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, key, &idempotency.Record{Token: key, Done: true, Response: idempotency.Response{Status: 200, Body: body}}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		complete("k" + strconv.Itoa(i))
	}
	if s.Len() != 3 || s.Bytes() > 4000 {
		t.Fatalf("%d records, %d bytes", s.Len(), s.Bytes())
	}
	complete("k3")
	// The oldest completed record went first.
	if r, _ := s.Get(ctx, "k0"); r != nil {
		t.Fatal("k0 kept; want it evicted")
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		if r, _ := s.Get(ctx, k); r == nil {
			t.Fatalf("%s evicted", k)
		}
	}
	if s.Evictions() != 1 || s.Bytes() > s.MaxBytes() {
		t.Fatalf("%d evictions, %d bytes", s.Evictions(), s.Bytes())
	}
	// In-progress records are never evicted, even past the bound.
	small, _ := idempotency.NewMemoryStore(idempotency.WithMaxBytes(1))
	for i := range 3 {
		if r, err := small.Begin(ctx, "p"+strconv.Itoa(i), &idempotency.Record{Token: "t"}, time.Minute); r != nil || err != nil {
			t.Fatal(r, err)
		}
	}
	if small.Len() != 3 {
		t.Fatalf("%d in-progress records, want 3", small.Len())
	}
}

func TestMemoryStoreExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, _ := idempotency.NewMemoryStore()
		s.Begin(ctx, "held", &idempotency.Record{Token: "t"}, time.Minute)
		s.Begin(ctx, "done", &idempotency.Record{Token: "t"}, time.Minute)
		s.Complete(ctx, "done", &idempotency.Record{Token: "t", Done: true, Response: idempotency.Response{Status: 200}}, time.Hour)
		time.Sleep(time.Minute)
		if r, _ := s.Get(ctx, "held"); r != nil {
			t.Fatal("in-progress record outlived its lock TTL")
		}
		if err := s.Complete(ctx, "held", &idempotency.Record{Token: "t", Done: true}, time.Hour); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("Complete after the lock expired = %v, want ErrNotHeld", err)
		}
		if r, _ := s.Get(ctx, "done"); r == nil {
			t.Fatal("completed record expired before its TTL")
		}
		time.Sleep(time.Hour)
		// The sweep at a write removes expired records nobody asks for.
		s.Begin(ctx, "new", &idempotency.Record{Token: "t"}, time.Minute)
		if s.Len() != 1 {
			t.Fatalf("%d records after expiry, want 1", s.Len())
		}
	})
}

func TestMemoryStoreClock(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := idempotency.NewMemoryStore(idempotency.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	s.Begin(ctx, "k", &idempotency.Record{Token: "t"}, time.Second)
	now = now.Add(time.Second)
	if r, _ := s.Get(ctx, "k"); r != nil {
		t.Fatal("record outlived its TTL on the given clock")
	}
	if _, err := idempotency.NewMemoryStore(idempotency.WithMaxBytes(0)); err == nil {
		t.Fatal("WithMaxBytes(0) accepted")
	}
}

// TestMemoryStoreSuite runs the store suite every Store passes.
func TestMemoryStoreSuite(t *testing.T) {
	idempotencytest.TestStore(t, func(t *testing.T) idempotency.Store {
		s, err := idempotency.NewMemoryStore()
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
