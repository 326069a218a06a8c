package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/paved-go/paved/audit"
)

// The audit trail: one CloudEvent per API call, saying who did what to
// which instance, the authorization decision and the outcome. What each
// operation records is in gateway.yaml (x-platform audit: levels, event
// types, and the new instance's address as an additional field on
// launches and terminations; reads only metadata, health nothing); where
// the events go is here: a JSON Lines file (group-committed with fsync,
// hash-chained, rotated at 64 MiB) and the console log.

// auditFile is the name of the active trail file in the audit directory.
const auditFile = "audit.jsonl"

// auditOptions returns the options of the platform's audit emitter,
// writing to dir and to logger, and a function that closes the file sink
// (the emitter closes it when the document has audit sections; a second
// Close is harmless).
// Block mode: a request waits up to a second for room in a full queue,
// then goes on and the loss is counted and marked in the trail.
func auditOptions(dir string, logger *slog.Logger) ([]audit.Option, func(), error) {
	// Requests never wait for the file (Block mode waits only for room in
	// the queue), so the sink may gather events for up to 5 ms before each
	// fsync: far fewer fsyncs under load, each event still reported
	// durable only after its own.
	file, err := audit.NewFileSink(filepath.Join(dir, auditFile),
		audit.WithHashChain(),
		audit.WithRotateSize(64<<20),
		audit.WithMaxDelay(5*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	return []audit.Option{
			audit.WithSource("/paved/examples/gateway"),
			audit.WithSink(file),
			audit.WithSink(audit.NewSlogSink(logger)),
			audit.WithMode(audit.Block),
			audit.WithTimeout(time.Second),
		}, func() {
			_ = file.Close(context.Background())
		}, nil
}
