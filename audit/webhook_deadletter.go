package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

const (
	// replayBytes and replayEvents bound one batch sent from the
	// dead-letter file (a single longer line is sent alone).
	replayBytes  = 1 << 20
	replayEvents = 500
)

// deadLetter is a WebhookSink's file of events the endpoint has not taken
// yet, one JSON event per line, oldest first. The sink's mutex guards it.
type deadLetter struct {
	path string
	f    *os.File
	size int64 // bytes of complete lines
	sent int64 // bytes at the start the current replay has delivered
	buf  []byte
}

func openDeadLetter(path string) (*deadLetter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, deadLetterError("creating directory", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, deadLetterError("opening", err)
	}
	d := &deadLetter{path: path, f: f}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, deadLetterError("stat", err)
	}
	_, end, err := tailLine(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, deadLetterError("reading", err)
	}
	if end < fi.Size() { // a torn line: its Write never returned nil
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, deadLetterError("cutting a torn line", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, deadLetterError("fsync", err)
		}
	}
	d.size = end
	return d, nil
}

// append writes lines at the end of the file and fsyncs them.
func (d *deadLetter) append(lines []byte) error {
	if n, err := d.f.Write(lines); err != nil {
		if n > 0 {
			d.f.Truncate(d.size)
		}
		return deadLetterError("write", err)
	}
	if err := d.f.Sync(); err != nil {
		return deadLetterError("fsync", err)
	}
	d.size += int64(len(lines))
	return nil
}

// next reads the lines the replay sends next: from d.sent, up to
// replayEvents lines or replayBytes, at least one line.
func (d *deadLetter) next() ([]byte, error) {
	n := min(d.size-d.sent, replayBytes)
	for {
		if int64(cap(d.buf)) < n {
			d.buf = make([]byte, n)
		}
		b := d.buf[:n]
		if _, err := d.f.ReadAt(b, d.sent); err != nil {
			return nil, deadLetterError("reading", err)
		}
		end, lines := 0, 0
		for lines < replayEvents {
			i := bytes.IndexByte(b[end:], '\n')
			if i < 0 {
				break
			}
			end += i + 1
			lines++
		}
		if end > 0 {
			return b[:end], nil
		}
		if n == d.size-d.sent {
			return nil, errors.New("audit: webhook sink: dead-letter file ends without a newline")
		}
		n = min(2*n, d.size-d.sent) // one line longer than replayBytes
	}
}

// reset empties the file once everything in it was delivered.
func (d *deadLetter) reset() error {
	if err := d.f.Truncate(0); err != nil {
		return deadLetterError("truncate", err)
	}
	if err := d.f.Sync(); err != nil {
		return deadLetterError("fsync", err)
	}
	d.size, d.sent = 0, 0
	if cap(d.buf) > replayBytes {
		d.buf = nil
	}
	return nil
}

func (d *deadLetter) close() error {
	if err := d.f.Close(); err != nil {
		return deadLetterError("close", err)
	}
	return nil
}

func deadLetterError(op string, err error) error {
	return &sinkIOError{prefix: "audit: webhook sink: dead-letter file: " + op + ": ", err: err}
}
