package redisidempotency_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/idempotencytest"
	"github.com/paved-go/paved/idempotency/redisidempotency"
	"github.com/paved-go/paved/internal/redistest"
)

// TestStoreSuite runs the Store conformance suite against a real
// redis-server, one store per subtest, each under a prefix of its own.
func TestStoreSuite(t *testing.T) {
	c := client(t, redistest.Start(t))
	idempotencytest.TestStore(t, func(t *testing.T) idempotency.Store {
		return store(t, c, redisidempotency.WithPrefix("suite:"+t.Name()+":"))
	})
}

func TestNew(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer ok.Close()
	noDeadlines := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer noDeadlines.Close()
	tests := []struct {
		name    string
		client  redis.UniversalClient
		opts    []redisidempotency.Option
		wantErr string // "" for none
	}{
		{"defaults", ok, nil, ""},
		{"all options", ok, []redisidempotency.Option{redisidempotency.WithPrefix(""), redisidempotency.WithTimeout(time.Millisecond)}, ""},
		{"nil client", nil, nil, "redisidempotency: New: nil client"},
		{"nil *redis.Client", (*redis.Client)(nil), nil, "redisidempotency: New: nil client"},
		{"client ignores deadlines", noDeadlines, nil, "redisidempotency: New: the client ignores context deadlines"},
		{"nil option", ok, []redisidempotency.Option{nil}, "redisidempotency: option 0 is nil"},
		{"prefix with a brace", ok, []redisidempotency.Option{redisidempotency.WithPrefix("svc:{a}:")}, "redisidempotency: WithPrefix:"},
		{"prefix not ASCII", ok, []redisidempotency.Option{redisidempotency.WithPrefix("clé:")}, "redisidempotency: WithPrefix:"},
		{"prefix with a newline", ok, []redisidempotency.Option{redisidempotency.WithPrefix("a\n")}, "redisidempotency: WithPrefix:"},
		{"zero timeout", ok, []redisidempotency.Option{redisidempotency.WithTimeout(0)}, "redisidempotency: WithTimeout:"},
		{"negative timeout", ok, []redisidempotency.Option{redisidempotency.WithTimeout(-time.Second)}, "redisidempotency: WithTimeout:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisidempotency.New(tc.client, tc.opts...)
			switch {
			case tc.wantErr == "" && (err != nil || s == nil):
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("New: %v, want an error starting %q", err, tc.wantErr)
			case tc.wantErr != "" && s != nil:
				t.Fatal("New returned a Store with its error")
			}
		})
	}
}

// A nil *Store and invalid arguments are errors, never panics.
func TestInvalidCalls(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer ok.Close()
	s := store(t, ok)
	var null *redisidempotency.Store
	ctx := context.Background()
	rec := &idempotency.Record{Token: "t"}
	tests := []struct {
		name string
		call func() error
	}{
		{"nil Store Begin", func() error { _, err := null.Begin(ctx, "k", rec, time.Second); return err }},
		{"nil Store Complete", func() error { return null.Complete(ctx, "k", rec, time.Second) }},
		{"nil Store Release", func() error { return null.Release(ctx, "k", "t") }},
		{"nil Store Get", func() error { _, err := null.Get(ctx, "k"); return err }},
		{"nil record Begin", func() error { _, err := s.Begin(ctx, "k", nil, time.Second); return err }},
		{"nil record Complete", func() error { return s.Complete(ctx, "k", nil, time.Second) }},
		{"zero lockTTL", func() error { _, err := s.Begin(ctx, "k", rec, 0); return err }},
		{"negative ttl", func() error { return s.Complete(ctx, "k", rec, -time.Second) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil || !strings.HasPrefix(err.Error(), "redisidempotency: ") {
				t.Fatalf("got %v, want a redisidempotency error", err)
			}
		})
	}
}

// Records live under the prefix, with the TTLs given, in a compact form.
func TestKeysAndTTLs(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 1<<20)
	for _, tc := range []struct {
		name, prefix string
		opts         []redisidempotency.Option
	}{
		{"default prefix", redisidempotency.DefaultPrefix, nil},
		{"WithPrefix", "orders:", []redisidempotency.Option{redisidempotency.WithPrefix("orders:")}},
		{"empty prefix", "", []redisidempotency.Option{redisidempotency.WithPrefix("")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			s := store(t, c, tc.opts...)
			const key = "3q2-7w"
			if existing, err := s.Begin(ctx, key, &idempotency.Record{Token: "t1", Fingerprint: "fp"}, 30*time.Second); err != nil || existing != nil {
				t.Fatalf("Begin: %v, %v", existing, err)
			}
			if got := c.Keys(ctx, "*").Val(); len(got) != 1 || got[0] != tc.prefix+key {
				t.Fatalf("keys %q, want [%q]", got, tc.prefix+key)
			}
			wantPTTL(t, c, tc.prefix+key, 30*time.Second)
			rec := &idempotency.Record{Token: "t1", Fingerprint: "fp", Done: true,
				Response: idempotency.Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: body}}
			if err := s.Complete(ctx, key, rec, 24*time.Hour); err != nil {
				t.Fatal(err)
			}
			wantPTTL(t, c, tc.prefix+key, 24*time.Hour)
			// Compact: the body's bytes and a few dozen more.
			if n := c.StrLen(ctx, tc.prefix+key).Val(); n < int64(len(body)) || n > int64(len(body))+64 {
				t.Fatalf("a record with a body of %d bytes takes %d bytes", len(body), n)
			}
			if err := s.Release(ctx, key, "t1"); !errors.Is(err, idempotency.ErrNotHeld) {
				t.Fatalf("Release of a done record: %v, want ErrNotHeld", err)
			}
			if err := c.Del(ctx, tc.prefix+key).Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// wantPTTL fails t unless key expires within ttl, and not more than 10 s
// (a busy machine) earlier.
func wantPTTL(t *testing.T, c *redis.Client, key string, ttl time.Duration) {
	t.Helper()
	got, err := c.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got > ttl || got < ttl-10*time.Second {
		t.Fatalf("PTTL %s = %v, want about %v", key, got, ttl)
	}
}

// A Begin or Complete that go-redis retries after its reply was lost
// finds its own work done and succeeds.
func TestRetriedCalls(t *testing.T) {
	s := store(t, client(t, redistest.Start(t)))
	ctx := context.Background()
	rec := &idempotency.Record{Token: "t1", Fingerprint: "fp"}
	for i := range 2 {
		if existing, err := s.Begin(ctx, "k", rec, time.Minute); err != nil || existing != nil {
			t.Fatalf("Begin %d by the holder: %v, %v; want (nil, nil)", i, existing, err)
		}
	}
	done := &idempotency.Record{Token: "t1", Fingerprint: "fp", Done: true, Response: idempotency.Response{Status: 201}}
	for i := range 2 {
		if err := s.Complete(ctx, "k", done, time.Minute); err != nil {
			t.Fatalf("Complete %d by the holder: %v", i, err)
		}
	}
	// Once done, the holder's own Begin gets the response like anyone's.
	got, err := s.Begin(ctx, "k", rec, time.Minute)
	if err != nil || got == nil || !got.Done || got.Response.Status != 201 {
		t.Fatalf("Begin on the done record: %+v, %v", got, err)
	}
}

// A value under the prefix that this package did not write is an error
// on every path that reads it, and is never overwritten or deleted.
func TestForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	s := store(t, c, redisidempotency.WithPrefix("p:"))
	ctx := context.Background()
	valid := redisidempotency.Encode(&idempotency.Record{Token: "t1", Fingerprint: "fp", Done: true,
		Response: idempotency.Response{Status: 200, Body: []byte("hello")}})
	values := map[string]string{
		"json":        `{"token":"t1"}`,
		"version 2":   "\x02\x02t1\x00\x02fp",
		"cut short":   string(valid[:len(valid)-2]),
		"bytes after": string(valid) + "x",
		"empty":       "",
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			key := "k-" + name
			if err := c.Set(ctx, "p:"+key, v, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, key); err == nil || !strings.HasPrefix(err.Error(), "redisidempotency: Get: ") {
				t.Fatalf("Get: %+v, %v; want an error", got, err)
			}
			if got, err := s.Begin(ctx, key, &idempotency.Record{Token: "t2"}, time.Minute); err == nil || !strings.HasPrefix(err.Error(), "redisidempotency: Begin: ") {
				t.Fatalf("Begin: %+v, %v; want an error", got, err)
			}
			// Not a record of the token, so not held.
			if err := s.Complete(ctx, key, &idempotency.Record{Token: "t2", Done: true}, time.Minute); !errors.Is(err, idempotency.ErrNotHeld) {
				t.Fatalf("Complete: %v, want ErrNotHeld", err)
			}
			if err := s.Release(ctx, key, "t2"); !errors.Is(err, idempotency.ErrNotHeld) {
				t.Fatalf("Release: %v, want ErrNotHeld", err)
			}
			if got := c.Get(ctx, "p:"+key).Val(); got != v {
				t.Fatalf("the value became %q", got)
			}
		})
	}
	t.Run("not a string", func(t *testing.T) {
		if err := c.HSet(ctx, "p:hash", "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
		check := func(op string, err error) {
			t.Helper()
			if err == nil || errors.Is(err, idempotency.ErrNotHeld) || !strings.HasPrefix(err.Error(), "redisidempotency: "+op+": ") {
				t.Fatalf("%s: %v, want a redisidempotency error", op, err)
			}
		}
		_, err := s.Get(ctx, "hash")
		check("Get", err)
		_, err = s.Begin(ctx, "hash", &idempotency.Record{Token: "t2"}, time.Minute)
		check("Begin", err)
		check("Complete", s.Complete(ctx, "hash", &idempotency.Record{Token: "t2"}, time.Minute))
		check("Release", s.Release(ctx, "hash", "t2"))
		if got := c.HGet(ctx, "p:hash", "f").Val(); got != "v" {
			t.Fatalf("the hash changed: %q", got)
		}
	})
}

// After SCRIPT FLUSH (as after a restart or a failover), the scripts are
// sent again.
func TestScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	s := store(t, c)
	ctx := context.Background()
	for i, op := range []func() error{
		func() error { _, err := s.Begin(ctx, "k", &idempotency.Record{Token: "t1"}, time.Minute); return err },
		func() error { return s.Release(ctx, "k", "t1") },
		func() error { _, err := s.Begin(ctx, "k", &idempotency.Record{Token: "t2"}, time.Minute); return err },
		func() error { return s.Complete(ctx, "k", &idempotency.Record{Token: "t2", Done: true}, time.Minute) },
	} {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := op(); err != nil {
			t.Fatalf("call %d after SCRIPT FLUSH: %v", i, err)
		}
	}
	if rec, err := s.Get(ctx, "k"); err != nil || rec == nil || !rec.Done || rec.Token != "t2" {
		t.Fatalf("Get: %+v, %v", rec, err)
	}
}
