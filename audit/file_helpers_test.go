package audit_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/paved-go/paved/audit"
)

// sinkEvent returns an event from source with sequence seq. The sink
// tests treat events as opaque apart from ID, Source, Sequence and
// PrevHash; pad lengthens the subject to make events of a given size.
func sinkEvent(t testing.TB, source string, seq, pad int) *audit.Event {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return &audit.Event{
		SpecVersion:     audit.SpecVersion,
		ID:              id.String(),
		Source:          source,
		Type:            "com.example.instances.launch",
		Time:            time.Date(2026, 11, 30, 23, 0, 0, seq, time.UTC),
		Subject:         "instance/" + strings.Repeat("x", pad),
		DataContentType: "application/json",
		Sequence:        strconv.Itoa(seq),
	}
}

func sinkEvents(t testing.TB, source string, from, n int) []*audit.Event {
	b := make([]*audit.Event, n)
	for i := range b {
		b[i] = sinkEvent(t, source, from+i, 16)
	}
	return b
}

// line is what the sink tests read back from a line.
type sinkLine struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Type     string `json:"type"`
	Sequence string `json:"sequence"`
	PrevHash string `json:"prevhash"`
	raw      string
}

// readLines reads the complete lines of a JSON Lines file.
func readLines(t testing.TB, path string) []sinkLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sinkLine
	r := bufio.NewReader(f)
	for {
		b, err := r.ReadString('\n')
		if err != nil {
			return out // a torn tail is not a line
		}
		var l sinkLine
		if err := json.Unmarshal([]byte(b), &l); err != nil {
			t.Fatalf("%s: line %d: %v", path, len(out)+1, err)
		}
		l.raw = b
		out = append(out, l)
	}
}

func lineIDs(ls []sinkLine) []string {
	var s []string
	for _, l := range ls {
		if l.Type != audit.SegmentClosedType {
			s = append(s, l.ID)
		}
	}
	return s
}

func eventIDs(b []*audit.Event) []string {
	s := make([]string, len(b))
	for i, e := range b {
		s[i] = e.ID
	}
	return s
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
