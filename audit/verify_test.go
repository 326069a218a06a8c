package audit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-go/paved/audit"
)

// chainedFiles writes 9 events through a chained FileSink rotating every
// 3 events: two closed segments and the active file, oldest first.
func chainedFiles(t testing.TB) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	probe := sinkEvent(t, "/s", 1, 0)
	lineLen := len(mustJSON(t, probe)) + len(`"prevhash":"`) + 64 + 3
	s, err := audit.NewFileSink(path, audit.WithHashChain(), audit.WithRotateSize(int64(3*lineLen+lineLen/2)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if err := s.Write(t.Context(), []*audit.Event{sinkEvent(t, "/s", i+1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	return files
}

func splitFileLines(b []byte) [][]byte {
	var out [][]byte
	for l := range bytes.Lines(b) {
		out = append(out, l)
	}
	return out
}

func TestVerifyDetectsTampering(t *testing.T) {
	type edit func(files [][][]byte) // files[i][j]: line j of file i, with its newline
	flip := func(f, l int, field string) edit {
		return func(files [][][]byte) {
			line := files[f][l]
			i := bytes.Index(line, []byte(field))
			if i < 0 {
				panic("no " + field)
			}
			line[i+len(field)+2] ^= 0x01
		}
	}
	tests := []struct {
		name     string
		edit     edit
		file     int // where the break is reported
		line     int
		fragment string
	}{
		{"byte in data", flip(0, 1, `"subject":`), 0, 3, "prevhash does not match"},
		{"byte in id", flip(0, 1, `"id":`), 0, 3, "prevhash does not match"},
		{"byte in prevhash", flip(0, 1, `"prevhash":`), 0, 2, "prevhash does not match"},
		{"byte in first line", flip(0, 0, `"subject":`), 0, 2, "prevhash does not match"},
		{"byte in close marker", flip(0, 3, `"source":`), 1, 1, "previous segment"},
		{"byte in active file", flip(2, 1, `"subject":`), 2, 3, "prevhash does not match"},
		{"delete a line", func(f [][][]byte) { f[1] = append(f[1][:1], f[1][2:]...) }, 1, 2, "prevhash does not match"},
		{"delete the first line", func(f [][][]byte) { f[0] = f[0][1:] }, 0, 3, "close marker does not count"},
		{"delete a segment's last event", func(f [][][]byte) { f[0] = append(f[0][:2], f[0][3]) }, 0, 3, "prevhash does not match"},
		{"delete a close marker", func(f [][][]byte) { f[0] = f[0][:3] }, 0, 4, "without its close marker"},
		{"reorder lines", func(f [][][]byte) { f[1][0], f[1][1] = f[1][1], f[1][0] }, 1, 1, "previous segment"},
		{"insert a copy", func(f [][][]byte) { f[2] = append([][]byte{f[2][0]}, f[2]...) }, 2, 2, "prevhash does not match"},
		{"line after a close marker", func(f [][][]byte) { f[0] = append(f[0], f[1][0]) }, 0, 5, "after the segment's close marker"},
		{"torn line in a closed segment", func(f [][][]byte) { f[0][3] = f[0][3][:20] }, 0, 4, "torn line"},
		{"not JSON", func(f [][][]byte) { f[1][1] = []byte("garbage\n") }, 1, 2, "not a JSON event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths := chainedFiles(t)
			files := make([][][]byte, len(paths))
			for i, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				files[i] = splitFileLines(b)
			}
			tc.edit(files)
			for i, p := range paths {
				if err := os.WriteFile(p, bytes.Join(files[i], nil), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := audit.Verify(paths...)
			ce, ok := errors.AsType[*audit.ChainError](err)
			if !ok {
				t.Fatalf("Verify = %v, want a *ChainError", err)
			}
			if !errors.Is(err, audit.ErrChainBroken) {
				t.Error("the error does not unwrap to ErrChainBroken")
			}
			if ce.File != paths[tc.file] || ce.Line != tc.line || !strings.Contains(ce.Reason, tc.fragment) {
				t.Errorf("break at %s:%d %q, want %s:%d %q", filepath.Base(ce.File), ce.Line, ce.Reason,
					filepath.Base(paths[tc.file]), tc.line, tc.fragment)
			}
		})
	}
}

// TestVerifyEveryByte flips each byte of the files in turn: every change
// is a break, except in the active file's last line, which nothing
// follows yet (VerifyResult.LastHash is there to anchor it).
func TestVerifyEveryByte(t *testing.T) {
	paths := chainedFiles(t)
	files := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	want, err := audit.VerifyBytes(files...)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := audit.Verify(paths...); err != nil || res != want {
		t.Fatalf("Verify = %+v, %v; VerifyBytes = %+v", res, err, want)
	}
	for i, b := range files {
		end := len(b)
		if i == len(files)-1 {
			end = bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
		}
		for pos := range end {
			orig := b[pos]
			b[pos] ^= 0x01
			if _, err := audit.VerifyBytes(files...); !errors.Is(err, audit.ErrChainBroken) {
				t.Fatalf("%s byte %d (%q) flipped: Verify = %v, want a break", filepath.Base(paths[i]), pos, orig, err)
			}
			b[pos] = orig
		}
	}
	// A flip in the last line changes the hash Verify reports.
	last := files[len(files)-1]
	last[bytes.LastIndex(last, []byte("instance/"))] ^= 0x01
	if got, err := audit.VerifyBytes(files...); err != nil || got.LastHash == want.LastHash {
		t.Errorf("last line changed: Verify = %+v, %v; want a different LastHash", got, err)
	}
}

func TestVerifyResult(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain.jsonl", `{"id":"a"}`+"\n"+`{"id":"b"}`+"\n"+`{"id":"c`)
	res, err := audit.Verify(plain)
	if err != nil || res.Chained || res.Events != 2 || !res.Truncated || res.LastID != "b" {
		t.Errorf("unchained file with a torn tail: %+v, %v", res, err)
	}
	if res, err := audit.Verify(plain, write("empty.jsonl", "")); !errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("torn line before another file: %+v, %v; want a break", res, err)
	}
	if _, err := audit.Verify(write("noid.jsonl", `{"type":"x"}`+"\n")); !errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("line without id: %v, want a break", err)
	}
	if _, err := audit.Verify(filepath.Join(dir, "missing.jsonl")); err == nil || errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("missing file: %v, want an I/O error", err)
	}
	res, err = audit.Verify(write("none.jsonl", ""))
	if err != nil || res.Files != 1 || res.Lines != 0 {
		t.Errorf("empty file: %+v, %v", res, err)
	}
	mixed := write("mixed.jsonl", `{"id":"a","prevhash":"`+audit.GenesisHash+`"}`+"\n"+`{"id":"b"}`+"\n")
	if _, err := audit.Verify(mixed); !errors.Is(err, audit.ErrChainBroken) {
		t.Errorf("unchained line in a chained file: %v, want a break", err)
	}
	ce := &audit.ChainError{File: "a.jsonl", Line: 3, EventID: "x", Reason: "why"}
	if got := ce.Error(); got != "audit: hash chain broken at a.jsonl:3 (event x): why" {
		t.Errorf("Error() = %q", got)
	}
}

func FuzzVerify(f *testing.F) {
	paths := chainedFiles(f)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a"}` + "\n" + `{"id":"b","prevhash":1}` + "\n"))
	f.Add([]byte(`{"id":"a","type":"` + audit.SegmentClosedType + `","prevhash":"` + audit.GenesisHash + `","data":{"events":0}}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := audit.VerifyBytes(b)
		if err != nil && !errors.Is(err, audit.ErrChainBroken) {
			t.Fatalf("Verify = %v, want nil or a break", err)
		}
		if err == nil && res.Lines != bytes.Count(b, []byte("\n")) {
			t.Fatalf("Lines = %d for %d newlines", res.Lines, bytes.Count(b, []byte("\n")))
		}
	})
}
