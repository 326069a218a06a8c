package main

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGatewaySharedLimits: two gateways on one Redis (-redis) share the
// launch limit of 2 a minute per key: two launches on one, and the third,
// on the other, is 429. They share instance lookups too: what one looked
// up for an authorization rule is in Redis for the other.
func TestGatewaySharedLimits(t *testing.T) {
	addr := startRedis(t)
	g1 := startGateway(t, "-redis", addr)
	g2 := startGateway(t, "-redis", addr)
	launch := `{"compartment":"dev"}`
	for i, g := range []*gatewayProcess{g1, g1} {
		if got := mustDo(t, g, "bob-key", "POST", "/instances", launch); got != 201 {
			t.Fatalf("launch %d: %d", i+1, got)
		}
	}
	if got := mustDo(t, g2, "bob-key", "POST", "/instances", launch); got != 429 {
		t.Fatalf("third launch, on the other gateway: %d, want 429", got)
	}
	// Another key still has its own bucket, on either gateway.
	if got := mustDo(t, g2, "alice-key", "POST", "/instances", `{"compartment":"prod"}`); got != 201 {
		t.Fatalf("another key: %d", got)
	}

	if got := mustDo(t, g1, "bob-key", "GET", "/instances/inst-0003", ""); got != 200 {
		t.Fatalf("read own instance: %d", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), "paved:cache:gateway.instances:*inst-0003*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("Redis keys of the lookup = %q, %v; want one", keys, err)
	}
}

// TestGatewaySharedBreaker: with -redis the upstream breaker's state is
// shared: when it opens on one gateway, the other rejects at once too,
// without having seen a failure itself.
func TestGatewaySharedBreaker(t *testing.T) {
	addr := startRedis(t)
	g1 := startGateway(t, "-redis", addr, "-breaker-open", "30s")
	g2 := startGateway(t, "-redis", addr, "-breaker-open", "30s")
	trip(t, g1)
	var p problem
	resp := g2.do(t, "GET", "/instances/inst-0002", "", "", &p)
	if resp.StatusCode != 503 || p.Detail != "breaker: open" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the other gateway answered %d %+v, Retry-After %q; want 503 breaker: open",
			resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
}

// startRedis runs a redis-server for t on a free loopback port, in a
// temporary directory, without persistence, and stops it when t ends.
// Without the binary the test is skipped, except with CI set, where it
// fails: CI must run the real thing. (The example uses only paved's public
// API, so it does not share the library's internal test helper.)
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found (CI is set, so this fails instead of skipping): %v", err)
		}
		t.Skip("redis-server not found: install it (apt-get install -y redis-server) to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", t.TempDir(), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := rdb.Ping(t.Context()).Err(); err == nil {
			return addr
		} else if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10s: %v", addr, err)
		}
	}
}
