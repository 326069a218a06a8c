package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/paved-go/paved/audit"
)

// writeChained writes n events through a chained FileSink that rotates
// every few events, and returns the files oldest first.
func writeChained(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	s, err := audit.NewFileSink(path, audit.WithHashChain(), audit.WithRotateSize(1500))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := &audit.Event{
			SpecVersion:     audit.SpecVersion,
			ID:              uuid.Must(uuid.NewV7()).String(),
			Source:          "/gateway",
			Type:            "com.example.instances.launch",
			Time:            time.Now().UTC(),
			Subject:         "instance/i-" + strconv.Itoa(i),
			DataContentType: "application/json",
			Sequence:        strconv.Itoa(i + 1),
		}
		if err := s.Write(t.Context(), []*audit.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	return append(files, path)
}

// TestLinesAreCloudEvents validates every line a chained FileSink writes,
// close markers included, with the CloudEvents SDK.
func TestLinesAreCloudEvents(t *testing.T) {
	files := writeChained(t, 12)
	if len(files) < 3 {
		t.Fatalf("%d files, want rotated segments", len(files))
	}
	markers := 0
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.Lines(b) {
			var ce cloudevents.Event
			if err := ce.UnmarshalJSON(l); err != nil {
				t.Fatalf("%s: not a CloudEvent: %v\n%s", p, err, l)
			}
			if err := ce.Validate(); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if h, _ := ce.Extensions()["prevhash"].(string); len(h) != 64 {
				t.Errorf("%s: prevhash extension %q", p, h)
			}
			if ce.Type() == audit.SegmentClosedType {
				markers++
			}
		}
	}
	if markers != len(files)-1 {
		t.Errorf("%d close markers for %d files", markers, len(files))
	}
}

func TestRun(t *testing.T) {
	files := writeChained(t, 12)
	tampered := writeChained(t, 12)
	b, _ := os.ReadFile(tampered[0])
	b[bytes.Index(b, []byte("i-0"))+2] = '9'
	os.WriteFile(tampered[0], b, 0o600)

	tests := []struct {
		name   string
		args   []string
		status int
		out    string
	}{
		{"intact", files, 0, "hash chain intact from genesis"},
		{"active file only", files[len(files)-1:], 0, "starts after earlier segments"},
		{"tampered", tampered, 1, "BROKEN " + tampered[0] + ":2 event "},
		{"missing file", []string{filepath.Join(t.TempDir(), "none")}, 2, ""},
		{"no arguments", nil, 2, ""},
		{"bad flag", []string{"-x"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.status {
				t.Fatalf("status %d, want %d; stdout %q stderr %q", got, tc.status, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.out)
			}
		})
	}
}
