// Package audit writes an audit trail a security team can trust: for every
// API call, who did what to which resource, when, from where and with what
// outcome, as CloudEvents, written asynchronously to durable sinks, with
// secrets redacted and every loss visible in the trail itself.
//
// # Events
//
// An Event is a CloudEvents 1.0 event; json.Marshal gives its structured
// JSON form:
//
//	{"specversion":"1.0","id":"0193a4c2-…","source":"gateway",
//	 "type":"com.example.instances.launch","time":"2026-11-30T23:00:55.005366547Z",
//	 "subject":"instance/i-1","datacontenttype":"application/json","sequence":"41",
//	 "data":{"stage":"ResponseComplete",
//	  "principal":{"id":"alice","type":"user","tenant":"acme"},
//	  "authorization":{"decision":"allow","rule":"owners-launch","reason":"…"},
//	  "action":{"protocol":"http","operation":"POST /instances","method":"POST","path":"/instances"},
//	  "resources":[{"kind":"instance","id":"i-1"}],
//	  "outcome":{"code":201,"result":"success"},
//	  "client":{"ip":"192.0.2.10","userAgent":"cli/1.0"},
//	  "correlationId":"…","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","duration":0.012,
//	  "request":{"contentType":"application/json","size":32,"body":{"image":"ubuntu","password":"[REDACTED]"}},
//	  "response":{"contentType":"application/json","size":71,"body":{"id":"i-1","ipAddress":"10.0.0.7"}},
//	  "additionalFields":{"ipAddress":"10.0.0.7"}}}
//
// The id is a UUIDv7 holding the event's time to the millisecond, time is RFC 3339 in UTC with
// sub-second precision, and the extension attribute sequence numbers the
// emitter's events from 1. The principal, the decision (as Kubernetes
// audit's authorization.k8s.io/decision and reason annotations) and the
// resources are those inner middleware (authz) found: the audit
// middleware, which wraps it, puts a call record in the request context
// for it to fill. The correlation id and trace id come from the request
// context (tracing.Middleware). outcome.error names the kind of failure
// with a google.rpc.Code name ("PERMISSION_DENIED"), never an error's
// text.
//
// # Levels and routes
//
// As in a Kubernetes audit policy, each route has a Level: None (no
// event), Metadata (the default: no bodies, no headers), Request (adds
// the request's headers and body) or RequestResponse (adds the response's
// too). WithRoute sets a route's level, event type and fields by its
// http.ServeMux pattern, so the middleware goes inside the mux, on each
// route:
//
//	em, err := audit.New("gateway",
//		audit.WithSink(fileSink),
//		audit.WithSink(audit.NewSlogSink(tracing.NewLogger(os.Stderr))),
//		audit.WithRoute("POST /instances", audit.Route{
//			Level:  audit.RequestResponse,
//			Type:   "com.example.instances.launch",
//			Fields: map[string]string{"ipAddress": "response.body.ipAddress"},
//		}),
//		audit.WithRoute("GET /healthz", audit.Route{Level: audit.None}),
//	)
//	...
//	defer em.Close(ctx)
//	mux.Handle("POST /instances", em.Middleware(authorizer.Middleware(launch)))
//
// Bodies are copied as the handler reads the request and writes the
// response, up to WithMaxBodyBytes (64 KiB), without holding back a byte,
// so streaming, Flush, Hijack and http.ResponseController keep working.
// Only JSON bodies (application/json, application/*+json) are recorded,
// parsed and redacted; a body of another type is recorded by type and
// size only (not base64: redaction cannot see into it), and so is a body
// over the cap (with truncated set: a cut JSON document is not JSON). The
// request size is what the handler read. Headers are recorded only when
// WithHeaders names them, and credential headers (Authorization, Cookie,
// Set-Cookie, Proxy-Authorization, X-API-Key, and any name with token,
// secret, password, session or api-key in it) can never be named.
//
// # Additional fields
//
// WithFields (for every route) and Route.Fields add named expressions
// (github.com/expr-lang/expr) compiled and type-checked by New over
// request (method, path, pattern, headers, body), response (status,
// headers, body) and principal (id, type, tenant). A body is parsed only
// when a route's level records it or one of its expressions reads it.
// Expressions run on the sink goroutines, not on the request path, and
// see bodies already redacted. A missing JSON member is null; an
// expression that fails at run time records {"error": "..."} for its
// field and the event is written all the same.
//
// # Redaction
//
// Before any sink sees an event, JSON body members whose names contain
// password, secret, token, apikey or credential (any case), those named
// by WithRedact ("ssn", at any depth) and those at the paths it gives
// ("card.number", from the root, through arrays) are replaced by
// "[REDACTED]". With an HMAC key they are replaced by
// "hmac-sha256:<hex>" instead, so two events can be matched on a value
// nobody can read back; as Vault keys each audit device, the key belongs
// to the sink: WithHMAC sets it for every sink,
// WithSink(s, WithSinkHMAC(key)) for one.
//
// # Emitter, back-pressure and gaps
//
// An Emitter numbers events in the order they are queued and keeps a
// bounded queue (WithQueueSize, 10,000) and a goroutine per sink, which
// writes batches (WithBatch: up to 256 events, and optionally waits for a
// batch to fill): a sink that is slow, hangs or fails never holds up
// another. When a sink's queue is full, WithMode decides:
//
//   - DropAndCount (the default) never delays a request: the event is
//     dropped for that sink, counted, and logged at most once a second.
//   - Block waits up to WithTimeout (1 s) for room, then drops.
//   - FailClosed is for APIs where an unaudited action must not happen. A
//     RequestReceived event (method, path, client, correlation and trace
//     ids; the principal is not known yet, as authz runs inside) must be
//     confirmed durable by every sink before the handler runs. When it is
//     not within the timeout, whether the queue is full or a sink fails,
//     hangs or lost its file, the request gets 503 (ErrUnavailable) and
//     the handler never runs; that refusal is itself queued as an event.
//     The ResponseComplete event follows the handler as in Block mode:
//     refusing it could not undo what was done. The wait is detached from
//     the request's context. WithDryRun lets such requests through,
//     logging them.
//
// Drops are never silent in the trail: before the next event a sink
// writes after missing some, it writes a drop marker (type DroppedType)
// whose data says how many it missed, which sequence numbers, and why
// (queue_full, or write_failed when a Write returned an error). A reader
// checking that sequence numbers follow each other sees every gap
// explained. Close stops taking events, writes every queued one and closes
// the sinks.
//
// Emit queues an event built by hand, for actions that are not HTTP or
// gRPC calls; the emitter fills in the id, source, time, sequence and the
// ids of the context.
//
// # Sinks
//
// A Sink writes batches and returns nil only once they are as durable as
// it promises. NewSlogSink writes events as log records (JSON with
// tracing.NewJSONLogger in production, tint text with
// tracing.NewConsoleLogger in development) and cannot confirm storage.
// NewOTelSink emits OpenTelemetry log records, so an OTLP collector
// receives the trail; it is best effort, as OpenTelemetry logs may be
// sampled or shed on the way, and counts as failed what its provider
// refuses.
//
// # File sink
//
// FileSink writes JSON Lines, one structured CloudEvent per line, to one
// active file:
//
//	sink, err := audit.NewFileSink("/var/log/svc/audit.jsonl",
//		audit.WithRotateSize(256<<20), audit.WithRotateInterval(24*time.Hour),
//		audit.WithHashChain())
//
// Write returns nil only after the fsync that covers its events: an event
// reported durable is on disk. Concurrent writes are committed together
// (group commit): while one write and fsync run, the events that arrive
// meanwhile gather in a buffer, and the next commit writes all of them
// with one write and one fsync, in the order their Writes were called.
// With the default WithMaxDelay of 0 no one waits for company: a lone
// event is committed at once, and under load the fsync's own duration
// forms the groups. WithMaxDelay(d) holds a group up to d (less once it
// reaches 1 MiB) when more events per fsync matter more than latency.
//
// Failures come back from Write, never swallowed: a failed write (a full
// disk; the file is cut back to its last good line) or fsync (after which
// the sink refuses further writes, since the file's state is unknown), the
// file removed or replaced behind the sink's back (checked before each
// commit; that Write fails and the next one writes to a new file at the
// path), a closed sink. A hung disk makes Write return ctx's error when
// ctx ends, so an Emitter's timeout (FailClosed) trips; events left
// waiting more than 64 MiB deep make Write fail at once.
//
// On start, NewFileSink cuts a torn last line that a crash left in the
// middle of a write (its Write never returned nil) and appends after the
// last complete line. Close commits what was written before it and closes
// the file.
//
// # Rotation
//
// WithRotateSize rotates before a commit would take the file past the
// size (a single commit larger than it gets a segment of its own);
// WithRotateInterval rotates a file that has been active that long, at
// the next commit or, when idle and not empty, when the time is up. The
// closed file is renamed with the UTC time of rotation to the millisecond
// before its extension, audit.jsonl becoming
// audit-2026-11-30T23-59-59.123Z.jsonl, so the names sort in time order
// (and stay increasing if the clock steps back); the directory is fsynced
// after the rename and after the new file is created. Old segments are
// never deleted by the sink: retention is the operator's choice.
//
// # Hash chain and Verify
//
// WithHashChain makes each line carry the extension attribute prevhash,
// the hex SHA-256 of the previous line's bytes (without its newline); the
// first line ever chains to GenesisHash (64 zeros). A rotated segment ends
// with a close marker, an event of type SegmentClosedType
// ("dev.paved.audit.segment.closed") whose data counts the segment's
// events, and the next segment's first line chains to the marker's hash,
// as CloudTrail chains its digest files. The chain continues across
// restarts, from the active file's last line or, when it is empty, the
// newest segment's marker.
//
// Verify(paths...) reads files in order, oldest segment first and the
// active file last (the shell's sorting of audit-*.jsonl then audit.jsonl
// is that order), and returns a *ChainError (errors.Is ErrChainBroken)
// naming the first broken link: the file, the line, its event id and why.
// Altering any byte, deleting, inserting or reordering lines, dropping a
// segment from the middle or a close marker is a break; a torn last line
// of the last file is reported as VerifyResult.Truncated, not as
// tampering. Nothing follows the active file's last line, so altering it
// goes unseen: keep VerifyResult.LastHash elsewhere to anchor it.
// VerifyResult.FromGenesis says whether the files start at the first
// segment ever written. The command auditverify does the same from a
// shell and exits with status 1 on a break:
//
//	go run github.com/paved-go/paved/cmd/auditverify audit-*.jsonl audit.jsonl
//
// # Webhook sink
//
// WebhookSink POSTs each batch in the CloudEvents HTTP batched content
// mode (Content-Type application/cloudevents-batch+json, a JSON array of
// structured events), through paved's retry Transport around a breaker
// Transport (WithWebhookRetrier, WithWebhookBreaker; defaults named
// "audit.webhook"). Each request carries the batch's first event id as
// its Idempotency-Key, which is what lets retry resend a POST. Any answer
// but 2xx is a failure.
//
// With WithDeadLetter(path), a batch the endpoint did not take (breaker
// open, retries spent, an error status, WithWebhookTimeout or the
// caller's deadline passed) is appended to that JSON Lines file and
// fsynced, and Write returns nil: the events are durable locally, not
// lost. While the file holds events, new batches are appended behind them
// instead of being sent, so each source's events reach the endpoint in
// order. The file is replayed, oldest first in batches of up to 500
// events or 1 MiB, at the start of each Write, every WithReplayInterval
// (10s) by a background goroutine, and on Replay(ctx); once all of it was
// taken it is truncated. Delivery is at least once: a batch whose answer
// was lost, or a replay cut by a crash, is sent again with the same event
// ids, so receivers deduplicate by id. A batch the endpoint rejects for
// good keeps the file from draining (and growing) until someone acts.
// Without a dead-letter file, a batch not delivered is an error from
// Write. Close stops the replayer; what the file holds is sent after the
// next start.
//
// # Cost of durability
//
// Measured on this 2-core machine (AMD EPYC, shared, load average 5-8
// during the run), on ext4 on a virtio disk (/dev/vda, mounted at /, so
// /tmp), events of 650 bytes of JSON, with
// go test -run XXX -bench BenchmarkFileSink -benchmem -count 5 ./audit/
// (medians):
//
//	BenchmarkFileSink/raw                     1,500 events/s  p99 227 ms  a write and fsync per event, 128 writers
//	BenchmarkFileSink/paved                  41,000 events/s  p99  13 ms  128 writers, one event per Write
//	BenchmarkFileSink/paved-batch100         76,000 events/s  p99 7.2 ms  one writer, batches of 100 (an Emitter)
//	BenchmarkFileSink/paved-chain            44,000 events/s  p99  13 ms  as paved, with the hash chain
//	BenchmarkFileSink/paved-chain-batch100   66,000 events/s  p99 6.8 ms  as paved-batch100, with the hash chain
//
// An fsync costs about 0.7 ms on that disk (raw: 668 us/op), so group
// commit is worth 27x to 50x here: events per second are the events
// gathered per fsync, as many as writers are waiting or an Emitter's
// batch holds, until the CPU (mostly JSON encoding) is the limit. The p99
// is from Write to durable, per Write (a batch, for batch100). A Write of
// one event allocates 2 objects (140 B), a batch of 100 about 200 (the
// JSON encoding); the hash chain costs a SHA-256 per line in the
// committing goroutine, within the run-to-run noise of these figures.
//
// # gRPC
//
// Package auditgrpc writes the same events for gRPC calls, one per unary
// call and one per stream, with message counts, at the Metadata level.
//
// # Observability
//
// paved.audit.events counts events per sink (paved.audit.sink) by result:
// written, dropped (queue full) and failed (Write returned an error);
// drop markers are not counted. paved.audit.queue.size is each sink's
// queue length. Drops, failures and dry-run refusals are logged, at most
// once a second per sink (WithLogger); events themselves never go to
// that logger.
//
// # Status page
//
// Every Emitter is a row of the status page (package status) under its
// name, from New until Close: its mode, the deepest sink queue (which the
// row charts) out of the queue size, and per sink the events queued,
// written, failed and dropped, and whether its last Write failed, with
// the error (see Report). The row is bad while a sink's last Write
// failed, and warns while events are dropped. The page reads the queues
// under the lock Emit takes for a moment; a sink's worker counts its
// Writes, and Emit counts a drop with one atomic add.
//
// # Performance
//
// The request path does no JSON, no expression and no I/O: it copies what
// it saw of the call into a pooled record, numbers it and queues it; the
// sink goroutines build, redact and write the events. Measured on this
// 2-core machine, shared with other work (load 3 to 5, so figures vary by
// up to a factor of 2 between runs), with
// go test -run XXX -bench 'Middleware|Emit$' -benchmem -count 6 ./audit/ (medians):
//
//	BenchmarkMiddleware/raw                    310 ns/op   2 allocs/op  the bare handler
//	BenchmarkMiddleware/None                   340 ns/op   2 allocs/op  no extra allocation
//	BenchmarkMiddleware/Metadata/sink-stalled  1.6 µs/op   3 allocs/op  the request path alone
//	BenchmarkMiddleware/Metadata               2.8 µs/op   3 allocs/op  17% dropped
//	BenchmarkMiddleware/Request                3.4 µs/op   9 allocs/op  75% dropped
//	BenchmarkEmit/paved                        1.3 µs/op   2 allocs/op
//
// The request path allocates once at the Metadata level (the request
// copy carrying the call record, with its context node), whatever the
// sink; the other allocations are the sink goroutine's. In the
// benchmarks both share the 2 cores, so their ns/op is the cost of the
// whole pipeline under a closed loop at full speed; dropped is the share
// of events the one sink goroutine could not keep up with (in
// DropAndCount mode the requests did not wait for it). With a sink that
// never returns, requests cost what Metadata/sink-stalled shows and never
// wait. At the body levels the sink goroutine parses, redacts and
// re-encodes each body, about 8 µs an event for the small bodies of the
// benchmark: one sink goroutine writes on the order of 100,000 such events
// a second, 400,000 at the Metadata level.
package audit
