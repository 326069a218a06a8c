package audit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/otelx"
)

// Emitter writes audit events to its sinks asynchronously: each sink has
// a bounded queue and a goroutine that writes batches from it, so a
// request never waits for a sink (except in FailClosed mode, by choice)
// and a slow or failing sink never holds up another. Events are numbered
// in the order they are queued (Event.Sequence); a sink that misses some
// gets a drop marker before the next event it writes. Build it with New;
// it is safe for concurrent use. Close flushes it.
type Emitter struct {
	name       string
	source     string
	mode       Mode
	timeout    time.Duration
	dryRun     bool
	batchSize  int
	batchDelay time.Duration
	queueSize  int
	cfg        *config

	red      *redactor
	def      *routePolicy
	routes   map[string]*routePolicy
	headers  []string
	maxBody  int
	filter   func(*http.Request) bool
	clientIP func(*http.Request) (string, error)
	onError  func(http.ResponseWriter, *http.Request, error)
	sinks    []*sinkState
	hmac     bool        // some sink has an HMAC key
	warned   atomic.Bool // the no-pattern warning was logged

	mu      sync.Mutex
	seq     uint64
	closed  bool
	room    chan struct{} // closed and replaced when a worker frees room, if waiters > 0
	waiters int

	closing chan struct{} // closed by Close: workers drain and stop
	ctx     context.Context
	cancel  context.CancelFunc // cancels Writes once Close's context is done
	wg      sync.WaitGroup

	status *emitterStatus // nil when not registered
}

// sinkState is one sink's queue, settings and counters. Its queue and gap
// are guarded by the Emitter's mu.
type sinkState struct {
	sink Sink
	name string
	rnd  io.Reader // the goroutine's buffered crypto/rand, for ids
	repl replacer  // mask, or the sink's HMAC
	hmac bool

	buf  []entry // ring
	head int
	n    int
	gap  gap           // drops to announce before the next entry queued
	wake chan struct{} // cap 1: entries were queued

	events  *otelx.Counter
	queue   *otelx.Gauge
	dropLog throttle
	failLog throttle
	counts  sinkCounts // for the status page
}

// entry is a queued record, with the gap the sink must announce first.
type entry struct {
	rec *record
	gap gap
}

// gap is a run of sequence numbers a sink missed.
type gap struct {
	first, last uint64
	count       int64
	reason      string
}

func (g *gap) add(seq uint64, reason string) {
	if g.count == 0 {
		g.first, g.reason = seq, reason
	}
	g.last = seq
	g.count++
}

// throttle lets something happen at most once a second, counting what it
// held back.
type throttle struct {
	last   atomic.Int64 // unix nanoseconds
	missed atomic.Int64
}

// allow reports whether to log now, and how many occurrences it held back
// since the last time, this one included.
func (t *throttle) allow(n int64) (bool, int64) {
	t.missed.Add(n)
	now := time.Now().UnixNano()
	last := t.last.Load()
	if now-last < int64(time.Second) || !t.last.CompareAndSwap(last, now) {
		return false, 0
	}
	return true, t.missed.Swap(0)
}

// New returns an Emitter that reports under name, with the sinks of
// WithSink (at least one) and the policies of WithLevel, WithRoute and
// WithFields. It starts a goroutine per sink; Close stops them. Every
// option error is returned at once, including those of field expressions
// that do not compile.
func New(name string, opts ...Option) (*Emitter, error) {
	c := &config{
		queueSize: DefaultQueueSize,
		batchSize: DefaultBatchSize,
		timeout:   DefaultTimeout,
		level:     Metadata,
		typ:       DefaultType,
		maxBody:   DefaultMaxBodyBytes,
	}
	if name == "" {
		c.errs = append(c.errs, errors.New("audit: New: empty name"))
	}
	applyOptions(c, forNew, opts)
	if len(c.sinks) == 0 {
		c.errs = append(c.errs, errors.New("audit: New: no sink (WithSink)"))
	}
	if c.source == "" {
		c.source = name
	}
	e := &Emitter{
		name:       name,
		source:     c.source,
		mode:       c.mode,
		timeout:    c.timeout,
		dryRun:     c.dryRun,
		batchSize:  c.batchSize,
		batchDelay: c.batchDelay,
		queueSize:  c.queueSize,
		cfg:        c,
		red:        newRedactor(c.redact),
		headers:    c.headers,
		maxBody:    c.maxBody,
		filter:     c.filter,
		clientIP:   c.clientIP,
		onError:    c.errorHandler,
		room:       make(chan struct{}),
		closing:    make(chan struct{}),
	}
	if e.onError == nil {
		e.onError = httpx.WriteError
	}
	var err error
	if e.def, err = e.compileRoute("WithFields", Route{}, c); err != nil {
		c.errs = append(c.errs, err)
	}
	for _, rc := range c.routes {
		if err := checkPattern(rc.pattern); err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		if _, dup := e.routes[rc.pattern]; dup {
			c.errs = append(c.errs, errors.New("audit: WithRoute: pattern "+rc.pattern+" given twice"))
			continue
		}
		p, err := e.compileRoute("WithRoute "+rc.pattern, rc.route, c)
		if err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		if e.routes == nil {
			e.routes = make(map[string]*routePolicy, len(c.routes))
		}
		e.routes[rc.pattern] = p
	}
	names := make(map[string]bool, len(c.sinks))
	for _, sc := range c.sinks {
		n := sc.sink.Name()
		if n == "" || names[n] {
			c.errs = append(c.errs, errors.New("audit: WithSink: sink name "+strconv.Quote(n)+" is empty or not unique"))
			continue
		}
		names[n] = true
		s := &sinkState{sink: sc.sink, name: n, repl: mask, rnd: newRandReader(), buf: make([]entry, c.queueSize), wake: make(chan struct{}, 1)}
		key := sc.hmac
		if key == nil {
			key = c.hmac
		}
		if key != nil {
			s.repl, s.hmac = hmacReplacer(key), true
			e.hmac = true
		}
		if s.events, err = otelx.AuditEvents(c.meterProvider, n); err != nil {
			c.errs = append(c.errs, errors.New("audit: "+err.Error()))
		}
		if s.queue, err = otelx.AuditQueueSize(c.meterProvider, n); err != nil {
			c.errs = append(c.errs, errors.New("audit: "+err.Error()))
		}
		e.sinks = append(e.sinks, s)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, s := range e.sinks {
		e.wg.Add(1)
		go e.run(s)
	}
	e.register()
	return e, nil
}

// Name returns the name the emitter was created with.
func (e *Emitter) Name() string { return e.name }

// Mode returns the emitter's back-pressure mode (WithMode).
func (e *Emitter) Mode() Mode { return e.mode }

// Emit queues ev for every sink, filling in what it leaves empty: the
// id (a UUIDv7), source, specversion, datacontenttype, time (now), type
// (DefaultType), sequence, and the correlation and trace ids from ctx.
// Bodies in ev.Data.Request and ev.Data.Response are redacted like those
// the middleware records (a body that is not JSON is left out); the
// other parts of ev are written as given. Emit takes ev over: the caller
// must not touch it afterwards.
//
// What happens when a queue is full depends on the mode: DropAndCount
// drops the event for that sink and returns ErrDropped at once; Block
// waits up to the timeout for room, then does the same; FailClosed waits
// up to the timeout for room and for every sink to confirm the event
// durable, and otherwise returns ErrUnavailable, except for an event
// whose Data.Stage is StageResponseComplete: the call it reports has
// happened already, and refusing it would prevent nothing, so it is
// queued as in Block mode. The wait is detached from ctx. After Close,
// Emit returns ErrClosed.
func (e *Emitter) Emit(ctx context.Context, ev *Event) error {
	if e == nil {
		return errors.New("audit: Emit on a nil *Emitter")
	}
	if ev == nil {
		return errors.New("audit: Emit: nil event")
	}
	rec := getRecord()
	rec.user = ev
	if ev.Time.IsZero() {
		rec.end = time.Now()
	}
	if ev.Data.CorrelationID == "" {
		rec.corrID = httpx.CorrelationID(ctx)
	}
	if ev.Data.TraceID == "" {
		rec.traceID = traceID(ctx)
	}
	mode := e.mode
	if mode == FailClosed && ev.Data.Stage == StageResponseComplete {
		mode = Block
	}
	return e.send(rec, mode)
}

// send queues rec as mode asks. It owns rec.
func (e *Emitter) send(rec *record, mode Mode) error {
	switch mode {
	case Block:
		return e.push(rec, e.timeout, time.Time{}, nil)
	case FailClosed:
		deadline := time.Now().Add(e.timeout)
		a := newAck()
		if err := e.push(rec, e.timeout, deadline, a); err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			return ErrUnavailable
		}
		return a.wait(deadline)
	}
	return e.push(rec, 0, time.Time{}, nil)
}

// push queues rec for every sink with room, waiting up to wait (when not
// zero) for room in all of them, or until deadline when it is set, and
// numbers it. It owns rec.
func (e *Emitter) push(rec *record, wait time.Duration, deadline time.Time, a *ack) error {
	e.mu.Lock()
	var timer *time.Timer
	for !e.closed && wait > 0 && !e.roomInAll() {
		if timer == nil {
			if deadline.IsZero() {
				deadline = time.Now().Add(wait)
			}
			timer = time.NewTimer(time.Until(deadline))
		}
		room := e.room
		e.waiters++
		e.mu.Unlock()
		timedOut := false
		select {
		case <-room:
		case <-timer.C:
			timedOut = true
		case <-e.closing:
		}
		e.mu.Lock()
		e.waiters--
		if timedOut {
			break
		}
	}
	if timer != nil {
		timer.Stop()
	}
	if e.closed {
		e.mu.Unlock()
		putRecord(rec)
		return ErrClosed
	}
	e.seq++
	rec.seq = e.seq
	rec.ack = a
	var pushed int32
	var dropped, wake []*sinkState
	var dropBuf, wakeBuf [4]*sinkState
	for _, s := range e.sinks {
		if s.n == len(s.buf) {
			s.gap.add(rec.seq, "queue_full")
			dropped = append(dropBuf[:len(dropped)], s)
			continue
		}
		s.buf[(s.head+s.n)%len(s.buf)] = entry{rec: rec, gap: s.gap}
		s.n++
		s.gap = gap{}
		pushed++
		// A worker looks at its queue again after every batch, so only
		// one that found it empty needs waking.
		if s.n == 1 {
			wake = append(wakeBuf[:len(wake)], s)
		}
	}
	rec.refs.Store(pushed)
	if a != nil {
		a.pending.Store(pushed)
		if dropped != nil {
			a.fail()
		}
	}
	e.mu.Unlock()
	if pushed == 0 {
		putRecord(rec)
	}
	for _, s := range wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if dropped == nil {
		return nil
	}
	for _, s := range dropped {
		s.counts.dropped.Add(1)
		s.events.Add(context.Background(), "dropped")
		s.queue.Record(context.Background(), int64(len(s.buf)))
		if ok, n := s.dropLog.allow(1); ok {
			e.cfg.log().LogAttrs(context.Background(), slog.LevelWarn, "audit: sink queue full, events dropped",
				slog.String("emitter", e.name), slog.String("sink", s.name), slog.Int64("dropped", n))
		}
	}
	return ErrDropped
}

func (e *Emitter) roomInAll() bool {
	for _, s := range e.sinks {
		if s.n == len(s.buf) {
			return false
		}
	}
	return true
}

// Close stops taking events, writes every queued one, closes the sinks
// and returns once they are closed. When ctx is done first, it cancels
// the Writes in progress and returns ctx's error (a sink that ignores its
// context keeps its goroutine until it returns). Close may be called
// more than once; later calls return nil at once.
func (e *Emitter) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closing)
	e.mu.Unlock()
	if e.status != nil {
		e.status.handle.Remove()
	}
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		e.cancel()
		return nil
	case <-ctx.Done():
		e.cancel()
		return ctx.Err()
	}
}

// ack is a FailClosed event's confirmation: done is closed when every
// sink it was queued for confirmed it, or when one failed.
type ack struct {
	pending atomic.Int32
	failed  atomic.Bool
	once    sync.Once
	done    chan struct{}
}

func newAck() *ack { return &ack{done: make(chan struct{})} }

func (a *ack) fail() {
	a.failed.Store(true)
	a.once.Do(func() { close(a.done) })
}

func (a *ack) confirm() {
	if a.pending.Add(-1) == 0 {
		a.once.Do(func() { close(a.done) })
	}
}

func (a *ack) wait(deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-a.done:
		if a.failed.Load() {
			return ErrUnavailable
		}
		return nil
	case <-t.C:
		return ErrUnavailable
	}
}
