package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paved-go/paved/audit"
)

func sinkExampleEvent(id, seq string) *audit.Event {
	return &audit.Event{
		SpecVersion:     audit.SpecVersion,
		ID:              id,
		Source:          "/gateway",
		Type:            "com.example.instances.launch",
		Time:            time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC),
		DataContentType: "application/json",
		Sequence:        seq,
	}
}

// A FileSink with a hash chain; Verify checks the file.
func ExampleFileSink() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.jsonl")

	sink, err := audit.NewFileSink(path, audit.WithHashChain(), audit.WithRotateSize(64<<20))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// Write returns once the events are written and fsynced.
	if err := sink.Write(ctx, []*audit.Event{sinkExampleEvent("e1", "1"), sinkExampleEvent("e2", "2")}); err != nil {
		fmt.Println(err)
	}
	if err := sink.Close(ctx); err != nil {
		fmt.Println(err)
	}

	res, err := audit.Verify(path)
	fmt.Println(res.Events, "events, chained:", res.Chained, "from genesis:", res.FromGenesis, "error:", err)
	// Output: 2 events, chained: true from genesis: true error: <nil>
}

// Verify reports the first broken link of a tampered file.
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.jsonl")

	sink, _ := audit.NewFileSink(path, audit.WithHashChain())
	sink.Write(context.Background(), []*audit.Event{
		sinkExampleEvent("e1", "1"), sinkExampleEvent("e2", "2"), sinkExampleEvent("e3", "3"),
	})
	sink.Close(context.Background())

	// Someone rewrites the first event's type.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "launch", "lunch!", 1)), 0o600)

	_, err := audit.Verify(path)
	if ce, ok := errors.AsType[*audit.ChainError](err); ok {
		fmt.Println("line", ce.Line, "event", ce.EventID+":", ce.Reason)
	}
	// Output: line 2 event e2: prevhash does not match the line before (a line was altered, removed, inserted or moved)
}
