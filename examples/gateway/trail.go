package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/paved-go/paved/audit"
)

// The audit trail: one CloudEvent per API call, saying who did what to
// which instance, the authorization decision and the outcome. Events are
// written to a JSON Lines file (group-committed with fsync, hash-chained,
// rotated at 64 MiB) and to the console log. Launches and terminations
// record both bodies and the instance's address as an additional field,
// reads only metadata, and health and metrics nothing.

// auditFile is the name of the active trail file in the audit directory.
const auditFile = "audit.jsonl"

// auditRoutes are the audit policies by route.
func auditRoutes() []audit.Option {
	ipAddress := map[string]string{"ipAddress": "response.body.ipAddress"}
	return []audit.Option{
		audit.WithRoute("GET /instances", audit.Route{Level: audit.Metadata, Type: "com.example.instances.list"}),
		audit.WithRoute("GET /instances/{id}", audit.Route{Level: audit.Metadata, Type: "com.example.instances.get"}),
		audit.WithRoute("POST /instances", audit.Route{Level: audit.RequestResponse, Type: "com.example.instances.launch", Fields: ipAddress}),
		audit.WithRoute("POST /instances/{id}/terminate", audit.Route{Level: audit.RequestResponse, Type: "com.example.instances.terminate", Fields: ipAddress}),
		audit.WithRoute("GET /admin/faults", audit.Route{Level: audit.Metadata, Type: "com.example.admin.faults.get"}),
		audit.WithRoute("POST /admin/faults", audit.Route{Level: audit.Request, Type: "com.example.admin.faults.set"}),
		audit.WithRoute("DELETE /admin/faults", audit.Route{Level: audit.Metadata, Type: "com.example.admin.faults.clear"}),
		audit.WithRoute("GET /healthz", audit.Route{Level: audit.None}),
		audit.WithRoute("GET /metrics", audit.Route{Level: audit.None}),
	}
}

// newTrail returns the gateway's audit emitter, writing to dir and to
// logger. Block mode: a request waits up to a second for room in a full
// queue, then goes on and the loss is counted and marked in the trail.
func newTrail(dir string, logger *slog.Logger) (*audit.Emitter, error) {
	file, err := audit.NewFileSink(filepath.Join(dir, auditFile),
		audit.WithHashChain(),
		audit.WithRotateSize(64<<20))
	if err != nil {
		return nil, err
	}
	opts := append(auditRoutes(),
		audit.WithSource("/paved/examples/gateway"),
		audit.WithSink(file),
		audit.WithSink(audit.NewSlogSink(logger)),
		audit.WithMode(audit.Block),
		audit.WithTimeout(time.Second),
		audit.WithLogger(logger),
	)
	em, err := audit.New("gateway", opts...)
	if err != nil {
		file.Close(context.Background())
		return nil, err
	}
	return em, nil
}
