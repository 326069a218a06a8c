package rediscache_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// startOneNodeCluster starts a redis-server in cluster mode that owns
// every slot: a Redis Cluster of one node, where commands and scripts are
// checked for slots (CROSSSLOT) as on a larger cluster.
func startOneNodeCluster(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found: %v", err)
		}
		t.Skip("redis-server not found: install it (apt-get install -y redis-server) to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	node := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer node.Close()
	ctx := context.Background()
	eventually(t, "redis-server answering", func() bool { return node.Ping(ctx).Err() == nil })
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cluster ok", func() bool {
		info, _ := node.ClusterInfo(ctx).Result()
		return strings.Contains(info, "cluster_state:ok")
	})
	return addr
}

// TestCluster runs the shared load, the lock and invalidation through a
// ClusterClient on a one-node cluster, with keys whose hash tags need
// escaping: a script touching two slots would fail with CROSSSLOT.
func TestCluster(t *testing.T) {
	addr := startOneNodeCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	a := newInstance[string, string](t, client, nil)
	b := newInstance[string, string](t, client, nil)
	for _, tc := range []struct{ key, name string }{
		{"plain", "paved:cache:test:{plain}"},
		{"", "paved:cache:test:{%}"},
		{"}", "paved:cache:test:{%7D}"},
		{"a}b", "paved:cache:test:{a%7Db}"},
		{"{x}", "paved:cache:test:{{x%7D}"},
		{"%", "paved:cache:test:{%25}"},
	} {
		key := tc.key
		var la, lb loads
		if v, err := a.c.Get(ctx, key, la.value("v"+key)); v != "v"+key || err != nil {
			t.Fatalf("A, key %q: %q, %v", key, v, err)
		}
		eventually(t, "A's value in Redis", func() bool { return client.Exists(ctx, tc.name).Val() == 1 })
		if v, err := b.c.Get(ctx, key, lb.value("b")); v != "v"+key || err != nil || lb.count() != 0 {
			t.Fatalf("B, key %q: %q, %v after %d loads", key, v, err, lb.count())
		}
		if err := a.l.Delete(ctx, key); err != nil {
			t.Fatalf("Delete %q: %v", key, err)
		}
		eventually(t, "B dropping its copy", func() bool { _, ok := b.c.Peek(key); return !ok })
	}
}
