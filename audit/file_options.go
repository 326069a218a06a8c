package audit

import (
	"errors"
	"strconv"
	"time"
)

// FileOption configures a FileSink (NewFileSink).
type FileOption interface{ applyFile(*fileConfig) }

type fileConfig struct {
	rotateSize     int64         // bytes; 0: no size rotation
	rotateInterval time.Duration // 0: no time rotation
	maxDelay       time.Duration // extra wait to gather a group; 0: none
	hashChain      bool
	err            error
}

func (c *fileConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

type fileOption func(*fileConfig)

func (o fileOption) applyFile(c *fileConfig) { o(c) }

func newFileConfig(opts []FileOption) (fileConfig, error) {
	var c fileConfig
	for i, o := range opts {
		if o == nil {
			return c, errors.New("audit: NewFileSink: option " + strconv.Itoa(i) + " is nil")
		}
		o.applyFile(&c)
	}
	return c, c.err
}

// WithRotateSize rotates the file before a write would take it past n
// bytes (default 0: never by size). A single group commit larger than n
// gets a segment of its own. n must not be negative.
func WithRotateSize(n int64) FileOption {
	return fileOption(func(c *fileConfig) {
		if n < 0 {
			c.fail(errors.New("audit: WithRotateSize: negative size"))
			return
		}
		c.rotateSize = n
	})
}

// WithRotateInterval rotates the file once it has been the active file
// for d, at the next write or, when idle and not empty, when d is up
// (default 0: never by time). The age counts from when the FileSink
// opened or last rotated the file. d must not be negative.
func WithRotateInterval(d time.Duration) FileOption {
	return fileOption(func(c *fileConfig) {
		if d < 0 {
			c.fail(errors.New("audit: WithRotateInterval: negative duration"))
			return
		}
		c.rotateInterval = d
	})
}

// WithMaxDelay lets a FileSink wait up to d after the first event of a
// group arrives before it writes and fsyncs the group, so more events
// share the fsync (default 0: write as soon as the previous fsync is done;
// events that arrive during an fsync share the next one, which already
// batches concurrent writers). A group reaching 1 MiB is written at once.
// d must not be negative.
func WithMaxDelay(d time.Duration) FileOption {
	return fileOption(func(c *fileConfig) {
		if d < 0 {
			c.fail(errors.New("audit: WithMaxDelay: negative duration"))
			return
		}
		c.maxDelay = d
	})
}

// WithHashChain makes the FileSink chain its lines for tamper evidence:
// each line carries prevhash, the hex SHA-256 of the line before it (the
// first line of the first segment: GenesisHash), and each rotated segment
// ends with a SegmentClosedType marker to which the next segment's first
// line chains. Verify checks the chain. Use it on a new file: lines
// written before it was turned on are not chained.
func WithHashChain() FileOption {
	return fileOption(func(c *fileConfig) { c.hashChain = true })
}
