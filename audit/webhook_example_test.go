package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/retry"
)

// A WebhookSink keeps what a down endpoint does not take in its
// dead-letter file and sends it once the endpoint is back.
func ExampleWebhookSink() {
	var up atomic.Bool
	var batches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		batches.Add(1) // a real receiver drops events whose id it has seen
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)

	r, _ := retry.New("audit-receiver", retry.WithBackoff(retry.Constant(time.Millisecond)))
	sink, err := audit.NewWebhookSink(srv.URL,
		audit.WithDeadLetter(filepath.Join(dir, "dead-letter.jsonl")),
		audit.WithWebhookRetrier(r))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	err = sink.Write(ctx, []*audit.Event{sinkExampleEvent("e1", "1"), sinkExampleEvent("e2", "2")})
	fmt.Println("endpoint down: Write =", err, "batches received:", batches.Load())

	up.Store(true)
	err = sink.Replay(ctx) // the background replayer would do it too
	fmt.Println("endpoint up: Replay =", err, "batches received:", batches.Load())
	sink.Close(ctx)
	// Output:
	// endpoint down: Write = <nil> batches received: 0
	// endpoint up: Replay = <nil> batches received: 1
}
