package audit_test

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/paved-go/paved/audit"
)

const crashPathEnv = "PAVED_AUDIT_CRASH_PATH"

// TestFileSinkCrash runs the test binary as a child that writes events
// through a FileSink and prints each id once Write has returned, kills it
// with SIGKILL at a random point, and checks that every id reported
// durable is in the files, which verify up to their last complete line.
func TestFileSinkCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	for round := range 3 {
		killAfter := 20 + rand.IntN(2000)
		durable := crashChild(t, path, killAfter)
		if len(durable) < killAfter {
			t.Fatalf("round %d: %d ids reported before the kill, want at least %d", round, len(durable), killAfter)
		}
		files := segmentFiles(t, dir)
		res, err := audit.Verify(files...)
		if err != nil {
			t.Fatalf("round %d: after SIGKILL: %v", round, err)
		}
		written := map[string]bool{}
		for _, p := range files {
			for _, id := range lineIDs(readLines(t, p)) {
				written[id] = true
			}
		}
		for _, id := range durable {
			if !written[id] {
				t.Fatalf("round %d: event %s was reported durable but is not in the files", round, id)
			}
		}
		t.Logf("round %d: killed after %d ids; %d reported, %d events in %d files, torn tail %v",
			round, killAfter, len(durable), res.Events, res.Files, res.Truncated)
	}
	// The next run (the same path) cuts a torn tail and continues the chain.
	s, err := audit.NewFileSink(path, audit.WithHashChain())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sinkEvents(t, "/after", 1, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close(t.Context())
	if res, err := audit.Verify(segmentFiles(t, dir)...); err != nil || res.Truncated || !res.FromGenesis {
		t.Fatalf("after restart: Verify = %+v, %v", res, err)
	}
}

// crashChild starts the child, reads the ids it reports, kills it after
// killAfter of them and returns every id it reported.
func crashChild(t *testing.T, path string, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileSinkCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var durable []string
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "durable ")
		if !ok || len(id) != 36 {
			continue
		}
		durable = append(durable, id)
		if len(durable) == killAfter && !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("the child ended after %d ids without being killed", len(durable))
	}
	return durable
}

// TestFileSinkCrashChild is the child of TestFileSinkCrash.
func TestFileSinkCrashChild(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("run by TestFileSinkCrash")
	}
	s, err := audit.NewFileSink(path, audit.WithHashChain(), audit.WithRotateSize(256<<10))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			source := "/writer/" + string(rune('a'+w))
			for i := 0; i < 200_000; {
				b := make([]*audit.Event, 1+rand.IntN(8))
				for j := range b {
					i++
					b[j] = sinkEvent(t, source, i, 400)
				}
				if err := s.Write(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
				var sb strings.Builder
				for _, e := range b {
					sb.WriteString("durable " + e.ID + "\n")
				}
				mu.Lock()
				os.Stdout.WriteString(sb.String())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.Close(context.Background())
}
