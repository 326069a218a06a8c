package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"time"
)

const (
	// flushBytes ends a WithMaxDelay wait early.
	flushBytes = 1 << 20
	// maxBacklog bounds the bytes waiting for a write that does not
	// complete; Write fails beyond it rather than hold memory without end.
	maxBacklog = 64 << 20
)

var (
	errFileClosed  = errors.New("audit: file sink: closed")
	errFileBacklog = errors.New("audit: file sink: backlog full, writes are not completing")
)

// FileSink writes events as JSON Lines, one structured CloudEvent per
// line, to a file it rotates by size or age. Writes from concurrent
// callers are committed together: one write and one fsync for every event
// that arrived while the previous fsync ran (group commit), and Write
// returns nil only after the fsync that covers its events.
//
// A FileSink is safe for concurrent use. Make one with NewFileSink.
type FileSink struct {
	path, name string
	cfg        fileConfig

	mu       sync.Mutex
	pending  []byte       // encoded lines waiting for the flusher
	nPending int64        // events in pending
	first    time.Time    // when pending got its first event (WithMaxDelay)
	group    *commitGroup // the group pending belongs to
	closed   bool
	failed   error // sticky: the file is in an unknown state

	wake  chan struct{} // pending is not empty
	full  chan struct{} // pending reached flushBytes
	stop  chan struct{} // Close was called
	done  chan struct{} // the flusher returned
	final error         // the flusher's last error, read after done

	seg fileSegment // owned by the flusher goroutine
}

// commitGroup is the fate of the events written together by one fsync.
type commitGroup struct {
	done chan struct{}
	err  error
}

// NewFileSink opens (or creates, mode 0600, with its directory) the file
// at path for appending and starts the goroutine that commits writes.
// A torn last line left by a crash is cut off first: it was never
// reported durable. Rotated files are named after path with the UTC time
// of rotation before the extension: audit.jsonl becomes
// audit-2026-11-30T23-59-59.123Z.jsonl, which sorts in time order.
//
// Close stops the goroutine and closes the file.
func NewFileSink(path string, opts ...FileOption) (*FileSink, error) {
	cfg, err := newFileConfig(opts)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("audit: NewFileSink: empty path")
	}
	s := &FileSink{
		path: path,
		name: "file:" + filepath.Base(path),
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		full: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := s.seg.open(path, cfg.hashChain, time.Now()); err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// Name returns "file:" and the base name of the path.
func (s *FileSink) Name() string { return s.name }

var lineEncoders = sync.Pool{New: func() any {
	e := &lineEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

type lineEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// Write appends the batch to the file and returns once the fsync that
// covers it is done, or ctx is done. An error means the events may not
// be durable: a failed write (a full disk), a failed fsync, the file
// removed or replaced behind the sink's back, a closed sink, or ctx's
// error when the commit did not finish in time (a hung disk); events
// reported by such an error may still reach the file later. Events are
// encoded with encoding/json, except that an event's PrevHash is only
// written when the hash chain sets it.
func (s *FileSink) Write(ctx context.Context, batch []*Event) error {
	if len(batch) == 0 {
		return nil
	}
	le := lineEncoders.Get().(*lineEncoder)
	le.buf.Reset()
	defer lineEncoders.Put(le)
	for _, e := range batch {
		if e == nil {
			return errors.New("audit: file sink: nil event")
		}
		if e.PrevHash != "" {
			// Only the chain sets prevhash, so Verify can tell a chained
			// file from a plain one; the caller's event is not written to.
			c := *e
			c.PrevHash = ""
			e = &c
		}
		if err := le.enc.Encode(e); err != nil {
			return errors.New("audit: file sink: encoding event: " + err.Error())
		}
	}
	if bytes.Count(le.buf.Bytes(), newlineByte) != len(batch) {
		return errNewline
	}

	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errFileClosed
	case s.failed != nil:
		err := s.failed
		s.mu.Unlock()
		return err
	case len(s.pending) >= maxBacklog:
		s.mu.Unlock()
		return errFileBacklog
	}
	g := s.group
	if g == nil {
		g = &commitGroup{done: make(chan struct{})}
		s.group = g
		if s.cfg.maxDelay > 0 {
			s.first = time.Now()
		}
	}
	s.pending = append(s.pending, le.buf.Bytes()...)
	s.nPending += int64(len(batch))
	big := len(s.pending) >= flushBytes
	s.mu.Unlock()
	wakeUp(s.wake)
	if big {
		wakeUp(s.full)
	}

	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var newlineByte = []byte{'\n'}

func wakeUp(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Close commits what was written before it, fsyncs and closes the file,
// and stops the sink's goroutine. If ctx ends first (a hung disk), Close
// returns ctx's error and the goroutine finishes on its own when the
// disk answers.
func (s *FileSink) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errFileClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	select {
	case <-s.done:
		return s.final
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the flusher: it commits one group at a time.
func (s *FileSink) run() {
	defer close(s.done)
	var rotate <-chan time.Time
	var timer *time.Timer
	if s.cfg.rotateInterval > 0 {
		timer = time.NewTimer(s.cfg.rotateInterval)
		defer timer.Stop()
		rotate = timer.C
	}
	var spare []byte
	for {
		stopping := false
		select {
		case <-s.wake:
			stopping = s.gather()
		case <-s.stop:
			stopping = true
		case <-rotate:
		}
		if timer != nil && s.seg.f != nil {
			now := time.Now()
			if s.seg.size > 0 && !s.seg.broken && now.Sub(s.seg.opened) >= s.cfg.rotateInterval {
				if err := s.seg.rotate(now); err != nil {
					s.fail(err)
				}
			}
			// An empty or broken segment has nothing to rotate: look again
			// an interval later rather than spin.
			wait := s.cfg.rotateInterval
			if s.seg.size > 0 && !s.seg.broken {
				wait = max(s.seg.opened.Add(s.cfg.rotateInterval).Sub(now), time.Millisecond)
			}
			timer.Reset(wait)
		}
		spare = s.flush(spare)
		if stopping {
			if err := s.seg.close(); err != nil && s.final == nil {
				s.final = err
			}
			return
		}
	}
}

// gather waits out WithMaxDelay, unless the group grows big or Close is
// called, which it reports.
func (s *FileSink) gather() (stopping bool) {
	if s.cfg.maxDelay <= 0 {
		return false
	}
	s.mu.Lock()
	wait := s.cfg.maxDelay - time.Since(s.first)
	s.mu.Unlock()
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.full:
	case <-s.stop:
		return true
	}
	return false
}

// flush commits what is pending and returns the buffer for reuse.
func (s *FileSink) flush(spare []byte) []byte {
	s.mu.Lock()
	buf, n, g := s.pending, s.nPending, s.group
	s.pending, s.nPending, s.group = spare[:0], 0, nil
	s.mu.Unlock()
	if g == nil {
		return buf[:0]
	}
	err := s.commit(buf, n)
	if err != nil {
		s.final = err
	}
	g.err = err
	close(g.done)
	if cap(buf) > 4*flushBytes {
		return nil
	}
	return buf[:0]
}

func (s *FileSink) commit(buf []byte, n int64) error {
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed != nil {
		return failed
	}
	seg := &s.seg
	if err := seg.check(time.Now()); err != nil {
		return err
	}
	now := time.Now()
	if seg.size > 0 && (s.cfg.rotateSize > 0 && seg.size+int64(len(buf)) > s.cfg.rotateSize ||
		s.cfg.rotateInterval > 0 && now.Sub(seg.opened) >= s.cfg.rotateInterval) {
		if err := seg.rotate(now); err != nil {
			s.fail(err)
			return err
		}
	}
	data := buf
	head := seg.head
	if s.cfg.hashChain {
		seg.out = seg.out[:0]
		for line := range bytes.Lines(buf) {
			var sum [32]byte
			seg.out, sum = appendChained(seg.out, line[:len(line)-1], &head)
			hex.Encode(head[:], sum[:])
		}
		data = seg.out
	}
	if err := seg.write(data); err != nil {
		if seg.broken {
			s.fail(err)
		}
		return err
	}
	seg.head = head
	seg.events += n
	if cap(seg.out) > 4*flushBytes {
		seg.out = nil
	}
	return nil
}

// fail makes err sticky: every later Write returns it.
func (s *FileSink) fail(err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
}

// fileError wraps an I/O error with the sink's prefix.
func fileError(op string, err error) error {
	return &sinkIOError{prefix: "audit: file sink: " + op + ": ", err: err}
}

// sinkIOError prefixes an error of the layers underneath, which stays
// reachable with errors.Is and errors.As.
type sinkIOError struct {
	prefix string
	err    error
}

func (e *sinkIOError) Error() string { return e.prefix + e.err.Error() }
func (e *sinkIOError) Unwrap() error { return e.err }

var _ Sink = (*FileSink)(nil)
