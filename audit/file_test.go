package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/audit"
)

func TestNewFileSinkOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts []audit.FileOption
		ok   bool
	}{
		{"defaults", filepath.Join(dir, "a.jsonl"), nil, true},
		{"all options", filepath.Join(dir, "b.jsonl"), []audit.FileOption{
			audit.WithRotateSize(1 << 20), audit.WithRotateInterval(time.Hour),
			audit.WithMaxDelay(time.Millisecond), audit.WithHashChain()}, true},
		{"directory created", filepath.Join(dir, "sub", "dir", "c.jsonl"), nil, true},
		{"empty path", "", nil, false},
		{"nil option", filepath.Join(dir, "d.jsonl"), []audit.FileOption{nil}, false},
		{"negative size", filepath.Join(dir, "e.jsonl"), []audit.FileOption{audit.WithRotateSize(-1)}, false},
		{"negative interval", filepath.Join(dir, "f.jsonl"), []audit.FileOption{audit.WithRotateInterval(-time.Second)}, false},
		{"negative delay", filepath.Join(dir, "g.jsonl"), []audit.FileOption{audit.WithMaxDelay(-time.Second)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := audit.NewFileSink(tc.path, tc.opts...)
			if !tc.ok {
				if err == nil {
					s.Close(t.Context())
					t.Fatal("NewFileSink succeeded, want an error")
				}
				if msg := err.Error(); len(msg) < 7 || msg[:7] != "audit: " {
					t.Errorf("error %q lacks the audit: prefix", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
	goleak.VerifyNone(t)
}

func TestFileSinkWritesCloudEventsLines(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "chained"}[chain], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			var opts []audit.FileOption
			if chain {
				opts = append(opts, audit.WithHashChain())
			}
			s, err := audit.NewFileSink(path, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != "file:audit.jsonl" {
				t.Errorf("Name() = %q", s.Name())
			}
			var want []string
			for i := range 3 {
				b := sinkEvents(t, "/svc", i*4+1, 4)
				if i == 1 {
					b[0].PrevHash = "set by someone else" // replaced by the chain, not duplicated
				}
				want = append(want, eventIDs(b)...)
				if err := s.Write(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Write(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			ls := readLines(t, path)
			if got := lineIDs(ls); !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
			// cmd/auditverify's tests validate the lines with the CloudEvents SDK.
			for i, l := range ls {
				if chain != (len(l.PrevHash) == 64) {
					t.Errorf("line %d: prevhash %q", i+1, l.PrevHash)
				}
			}
			res, err := audit.Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if res.Chained != chain || res.Events != 12 || res.Truncated {
				t.Errorf("Verify = %+v", res)
			}
			if chain && !res.FromGenesis {
				t.Error("chain does not start at genesis")
			}
		})
	}
	goleak.VerifyNone(t)
}

func TestFileSinkConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := audit.NewFileSink(path, audit.WithHashChain())
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 8, 50
	var wg sync.WaitGroup
	got := make([][]string, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				e := sinkEvent(t, "/w"+string(rune('a'+w)), i+1, 100)
				if err := s.Write(context.Background(), []*audit.Event{e}); err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], e.ID)
			}
		})
	}
	wg.Wait()
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ls := readLines(t, path)
	if len(ls) != writers*per {
		t.Fatalf("%d lines, want %d", len(ls), writers*per)
	}
	// Each writer's events are in its order in the file.
	pos := map[string]int{}
	for i, l := range ls {
		pos[l.ID] = i
	}
	for w := range writers {
		for i := 1; i < len(got[w]); i++ {
			if pos[got[w][i]] < pos[got[w][i-1]] {
				t.Fatalf("writer %d: event %d before event %d", w, i, i-1)
			}
		}
	}
	if _, err := audit.Verify(path); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}

// TestFileSinkMaxDelay shows group commit: writes wait together for one
// write and fsync, WithMaxDelay after the first of them.
func TestFileSinkMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		s, err := audit.NewFileSink(path, audit.WithMaxDelay(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var returned []time.Duration
		for i := range 10 {
			wg.Go(func() {
				if err := s.Write(context.Background(), sinkEvents(t, "/s", i*3, 3)); err != nil {
					t.Error(err)
				}
				mu.Lock()
				returned = append(returned, time.Since(start))
				mu.Unlock()
			})
		}
		synctest.Wait()
		mu.Lock()
		early := len(returned)
		mu.Unlock()
		if n := len(readLines(t, path)); n != 0 || early != 0 {
			t.Fatalf("before the delay: %d lines written, %d writes returned", n, early)
		}
		wg.Wait()
		if n := len(readLines(t, path)); n != 30 {
			t.Fatalf("%d lines, want 30", n)
		}
		for _, d := range returned {
			if d != time.Second {
				t.Errorf("a write returned after %v, want the 1s delay", d)
			}
		}
		// A write whose context ends first returns its error.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := s.Write(ctx, sinkEvents(t, "/s", 100, 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Write = %v, want DeadlineExceeded", err)
		}
		// Close commits what is pending without waiting out the delay.
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(readLines(t, path)); n != 31 {
			t.Fatalf("%d lines after Close, want 31", n)
		}
		if err := s.Write(context.Background(), sinkEvents(t, "/s", 101, 1)); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
}

var rotatedNameRE = regexp.MustCompile(`^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.jsonl$`)

// segments lists the rotated segments of dir/audit.jsonl in time order,
// then the active file.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	rotated, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rotated)
	for _, p := range rotated {
		if !rotatedNameRE.MatchString(filepath.Base(p)) {
			t.Errorf("rotated file %s is not named by time", filepath.Base(p))
		}
	}
	return append(rotated, filepath.Join(dir, "audit.jsonl"))
}

func TestFileSinkRotateBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	const size = 2000
	s, err := audit.NewFileSink(path, audit.WithRotateSize(size), audit.WithHashChain())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 40 {
		e := sinkEvent(t, "/s", i+1, 100)
		want = append(want, e.ID)
		if err := s.Write(t.Context(), []*audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, dir)
	if len(files) < 4 {
		t.Fatalf("%d files, want several segments", len(files))
	}
	var got []string
	for i, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		ls := readLines(t, p)
		// A segment holds events up to the size; its close marker may pass it.
		if i < len(files)-1 {
			if last := ls[len(ls)-1]; last.Type != audit.SegmentClosedType {
				t.Errorf("%s ends with %q, not a close marker", p, last.Type)
			} else if fi.Size()-int64(len(last.raw)) > size {
				t.Errorf("%s holds %d bytes of events, over %d", p, fi.Size()-int64(len(last.raw)), size)
			}
		}
		got = append(got, lineIDs(ls)...)
	}
	if !slices.Equal(got, want) {
		t.Fatal("events across segments differ from what was written")
	}
	res, err := audit.Verify(files...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != len(files) || res.Events != 40 || res.Lines != 40+len(files)-1 || !res.FromGenesis {
		t.Errorf("Verify = %+v", res)
	}
	// Verifying a middle segment alone works, without genesis.
	if res, err := audit.Verify(files[1]); err != nil || res.FromGenesis {
		t.Errorf("Verify(one segment) = %+v, %v", res, err)
	}
	// Leaving out a middle segment breaks the chain.
	if _, err := audit.Verify(slices.Delete(slices.Clone(files), 1, 2)...); !errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("Verify without segment 2 = %v, want a break", err)
	}
}

func TestFileSinkRotateByTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.jsonl")
		s, err := audit.NewFileSink(path, audit.WithRotateInterval(time.Hour), audit.WithHashChain())
		if err != nil {
			t.Fatal(err)
		}
		// The bubble's clock starts at 2000-01-01T00:00:00Z.
		write := func(n int) {
			if err := s.Write(context.Background(), sinkEvents(t, "/s", 1, n)); err != nil {
				t.Fatal(err)
			}
		}
		write(2)
		time.Sleep(90 * time.Minute) // idle: rotated when the hour is up
		synctest.Wait()
		write(3)
		time.Sleep(30 * time.Minute) // 02:00: the segment opened at 01:00 rotates
		synctest.Wait()
		write(1)
		time.Sleep(10 * time.Minute) // an empty segment is not rotated when idle
		synctest.Wait()
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		files := segmentFiles(t, dir)
		var names []string
		for _, p := range files {
			names = append(names, filepath.Base(p))
		}
		want := []string{"audit-2000-01-01T01-00-00.000Z.jsonl", "audit-2000-01-01T02-00-00.000Z.jsonl", "audit.jsonl"}
		if !slices.Equal(names, want) {
			t.Fatalf("files %v, want %v", names, want)
		}
		for i, n := range []int{2, 3, 1} {
			if got := len(lineIDs(readLines(t, files[i]))); got != n {
				t.Errorf("%s holds %d events, want %d", names[i], got, n)
			}
		}
		if res, err := audit.Verify(files...); err != nil || res.Events != 6 {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	})
}

func TestFileSinkReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	open := func(opts ...audit.FileOption) *audit.FileSink {
		s, err := audit.NewFileSink(path, append(opts, audit.WithHashChain())...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write := func(s *audit.FileSink, n int) {
		if err := s.Write(t.Context(), sinkEvents(t, "/s", 1, n)); err != nil {
			t.Fatal(err)
		}
	}
	s := open()
	write(s, 3)
	s.Close(t.Context())

	// Reopened, the chain continues from the last line.
	s = open(audit.WithRotateSize(1))
	write(s, 2) // rotates first: 3 events plus a marker go to a segment
	s.Close(t.Context())

	// A torn line from a crash is cut off on open.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"specversion":"1.0","id":"torn`)
	f.Close()
	if res, err := audit.Verify(segmentFiles(t, dir)...); err != nil || !res.Truncated {
		t.Fatalf("before reopening: Verify = %+v, %v; want a truncated tail", res, err)
	}
	s = open()
	write(s, 1)
	s.Close(t.Context())

	// An empty active file chains to the newest segment's close marker.
	os.Rename(path, filepath.Join(dir, "audit-2999-01-01T00-00-00.000Z.jsonl"))
	s = open()
	write(s, 1)
	s.Close(t.Context())

	files := segmentFiles(t, dir)
	res, err := audit.Verify(files[:len(files)-1]...)
	if err != nil || !res.FromGenesis || res.Events != 6 || res.Truncated {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	// The hand-moved file has no close marker: Verify says so.
	if _, err := audit.Verify(files...); !errors.Is(err, audit.ErrChainBroken) {
		t.Fatalf("Verify across an unclosed segment = %v, want a break", err)
	}
	goleak.VerifyNone(t)
}

func TestFileSinkFileRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := audit.NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if err := s.Write(t.Context(), sinkEvents(t, "/s", 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sinkEvents(t, "/s", 3, 1)); err == nil {
		t.Fatal("Write after the file was removed succeeded")
	}
	b := sinkEvents(t, "/s", 4, 1)
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatalf("Write to the recreated file: %v", err)
	}
	if got := lineIDs(readLines(t, path)); !slices.Equal(got, eventIDs(b)) {
		t.Fatalf("recreated file holds %v, want %v", got, eventIDs(b))
	}
}

func TestFileSinkWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	// /dev/full fails every write with ENOSPC, as a full disk does.
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	s, err := audit.NewFileSink(path)
	if err != nil {
		t.Skipf("cannot open /dev/full through a link: %v", err)
	}
	defer s.Close(t.Context())
	err = s.Write(t.Context(), sinkEvents(t, "/s", 1, 1))
	if err == nil {
		t.Fatal("Write to a full disk succeeded")
	}
	t.Log(err)
}
