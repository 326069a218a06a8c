package audit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// run is a sink's goroutine: it writes batches from the sink's queue
// until Close, then drains the queue and closes the sink.
func (e *Emitter) run(s *sinkState) {
	defer e.wg.Done()
	var failed gap // events a failed Write lost, announced before the next batch
	ents := make([]entry, 0, e.batchSize)
	for {
		ents = e.take(s, ents[:0])
		if len(ents) == 0 {
			break
		}
		e.writeBatch(s, ents, &failed)
	}
	// Events lost after the last one written are announced too: the
	// trail ends with its gaps explained.
	e.mu.Lock()
	tail := s.gap
	s.gap = gap{}
	e.mu.Unlock()
	var last []*Event
	for _, g := range [...]gap{failed, tail} {
		if g.count > 0 {
			m := e.marker(g, s.rnd)
			last = append(last, &m)
		}
	}
	if len(last) > 0 {
		if err := e.write(s, last); err != nil {
			e.cfg.log().LogAttrs(context.Background(), slog.LevelError, "audit: writing the last drop marker failed",
				slog.String("emitter", e.name), slog.String("sink", s.name), slog.String("error", err.Error()))
		}
	}
	if err := closeSink(e.ctx, s.sink); err != nil {
		e.cfg.log().LogAttrs(context.Background(), slog.LevelError, "audit: closing sink failed",
			slog.String("emitter", e.name), slog.String("sink", s.name), slog.String("error", err.Error()))
	}
}

// take waits for entries in s's queue and moves up to a batch of them to
// ents; with a batch delay it waits up to that long for the batch to
// fill. It returns no entries once the emitter is closed and the queue
// is empty.
func (e *Emitter) take(s *sinkState, ents []entry) []entry {
	var timer *time.Timer
	for {
		e.mu.Lock()
		for s.n > 0 && len(ents) < e.batchSize {
			ents = append(ents, s.buf[s.head])
			s.buf[s.head] = entry{}
			s.head = (s.head + 1) % len(s.buf)
			s.n--
		}
		n, closed := s.n, e.closed
		if e.waiters > 0 && len(ents) > 0 {
			close(e.room)
			e.room = make(chan struct{})
		}
		e.mu.Unlock()
		s.queue.Record(context.Background(), int64(n))
		full := len(ents) == e.batchSize
		if full || closed && (len(ents) > 0 || n == 0) {
			break
		}
		if len(ents) > 0 && (e.batchDelay == 0 || timer != nil && timerFired(timer)) {
			break
		}
		if len(ents) > 0 && timer == nil {
			timer = time.NewTimer(e.batchDelay)
		}
		var tc <-chan time.Time
		if timer != nil {
			tc = timer.C
		}
		select {
		case <-s.wake:
		case <-tc:
			timer = stoppedTimer
		case <-e.closing:
		}
	}
	if timer != nil && timer != stoppedTimer {
		timer.Stop()
	}
	return ents
}

// stoppedTimer marks a batch timer that fired.
var stoppedTimer = new(time.Timer)

func timerFired(t *time.Timer) bool { return t == stoppedTimer }

// writeBatch builds the sink's events for ents, with drop markers where
// the sink missed events, writes them, and accounts for the result.
func (e *Emitter) writeBatch(s *sinkState, ents []entry, failed *gap) {
	n := len(ents)
	if failed.count > 0 {
		n++
	}
	for i := range ents {
		if ents[i].gap.count > 0 {
			n++
		}
	}
	evs := make([]Event, 0, n)
	prev := *failed
	if prev.count > 0 {
		evs = append(evs, e.marker(prev, s.rnd))
		*failed = gap{}
	}
	nEvents := int64(0)
	for _, en := range ents {
		if en.gap.count > 0 {
			evs = append(evs, e.marker(en.gap, s.rnd))
		}
		evs = append(evs, e.eventFor(s, en.rec))
		nEvents++
	}
	batch := make([]*Event, len(evs))
	for i := range evs {
		batch[i] = &evs[i]
	}
	err := e.write(s, batch)
	s.counts.wrote(nEvents, err)
	outcome := "written"
	if err != nil {
		outcome = "failed"
		// Everything this batch held is missing from the sink: the
		// events, and the gaps its markers announced.
		lost := prev
		for _, en := range ents {
			if en.gap.count > 0 {
				if lost.count == 0 {
					lost.first = en.gap.first
				}
				lost.count += en.gap.count
			}
			if lost.count == 0 {
				lost.first = en.rec.seq
			}
			lost.count++
			lost.last = en.rec.seq
		}
		lost.reason = "write_failed"
		*failed = lost
		if ok, k := s.failLog.allow(nEvents); ok {
			e.cfg.log().LogAttrs(context.Background(), slog.LevelError, "audit: sink write failed",
				slog.String("emitter", e.name), slog.String("sink", s.name), slog.Int64("failed", k), slog.String("error", err.Error()))
		}
	}
	ctx := context.Background()
	for _, en := range ents {
		s.events.Add(ctx, outcome)
		if a := en.rec.ack; a != nil {
			if err != nil {
				a.fail()
			} else {
				a.confirm()
			}
		}
		en.rec.release()
	}
}

// marker returns the drop-marker event announcing g.
func (e *Emitter) marker(g gap, rnd io.Reader) Event {
	now := time.Now().UTC()
	return Event{
		SpecVersion:     SpecVersion,
		ID:              newID(now, rnd),
		Source:          e.source,
		Type:            DroppedType,
		Time:            now,
		DataContentType: ContentType,
		Sequence:        strconv.FormatUint(g.last, 10),
		Data:            Data{Dropped: &Dropped{Count: g.count, First: g.first, Last: g.last, Reason: g.reason}},
	}
}

// eventFor returns s's copy of rec's event: the shared one, with the
// bodies redacted by the sink's HMAC key when it has one.
func (e *Emitter) eventFor(s *sinkState, rec *record) Event {
	rec.once.Do(func() { rec.event = e.build(rec, s.rnd) })
	ev := *rec.event
	if s.hmac {
		if ev.Data.Request != nil && rec.reqTree != nil {
			p := *ev.Data.Request
			p.Body = marshalBody(e.red.redact(rec.reqTree, s.repl))
			ev.Data.Request = &p
		}
		if ev.Data.Response != nil && rec.resTree != nil {
			p := *ev.Data.Response
			p.Body = marshalBody(e.red.redact(rec.resTree, s.repl))
			ev.Data.Response = &p
		}
	}
	return ev
}

// newID returns a UUIDv7 (RFC 9562) for an event at t: t's Unix
// milliseconds, then 74 random bits from rnd, a buffered crypto/rand
// reader of the sink goroutine calling it (one read syscall per 100 ids
// rather than one per id). Taking the time from the event, not the clock,
// makes the id's timestamp the event's. If rnd fails it returns a random
// UUID.
func newID(t time.Time, rnd io.Reader) string {
	var b [36]byte
	if !formatID(&b, t, rnd) {
		return uuid.NewString()
	}
	return string(b[:])
}

// formatID writes newID's id into b, in the canonical text form, and
// reports whether rnd gave the random bits. b's tail holds the random
// bytes while they are read: b is where the caller keeps the id, so the
// read needs no buffer of its own (a local one would escape through rnd).
func formatID(b *[36]byte, t time.Time, rnd io.Reader) bool {
	if _, err := io.ReadFull(rnd, b[26:36]); err != nil {
		return false
	}
	var u uuid.UUID
	copy(u[6:], b[26:36])
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return true
}

func newRandReader() *bufio.Reader { return bufio.NewReaderSize(rand.Reader, 1024) }

// write is s.sink.Write, with a panic turned into an error: a broken sink
// must not take the service down.
func (e *Emitter) write(s *sinkState, batch []*Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errSinkPanicked
		}
	}()
	return s.sink.Write(e.ctx, batch)
}

func closeSink(ctx context.Context, s Sink) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errSinkPanicked
		}
	}()
	return s.Close(ctx)
}

var errSinkPanicked = errors.New("audit: sink panicked")
