package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// rotatedLayout is the UTC time in a rotated file's name: sortable, and
// without colons, which some file systems refuse.
const rotatedLayout = "2006-01-02T15-04-05.000Z"

// fileSegment is the active file of a FileSink. Only the flusher goroutine
// uses it after open.
type fileSegment struct {
	path, dir, stem, ext string
	chain                bool

	f          *os.File
	fi         os.FileInfo // to notice the file being removed or replaced
	size       int64
	events     int64 // lines written into this segment, for the close marker
	opened     time.Time
	head       [hashLen]byte // hex hash of the last line (chain)
	out        []byte        // chained lines being written
	lastRotate time.Time     // the time in the newest rotated name
	broken     bool          // the file's state is unknown; stop writing
}

func (g *fileSegment) open(path string, chain bool, now time.Time) error {
	g.path, g.chain, g.opened = path, chain, now
	g.dir = filepath.Dir(path)
	base := filepath.Base(path)
	g.ext = filepath.Ext(base)
	g.stem = strings.TrimSuffix(base, g.ext)
	copy(g.head[:], GenesisHash)
	if err := os.MkdirAll(g.dir, 0o750); err != nil {
		return fileError("creating directory", err)
	}
	lastSeg, err := g.latestSegment()
	if err != nil {
		return err
	}
	if err := g.openFile(); err != nil {
		return err
	}
	line, end, err := tailLine(g.f, g.size)
	if err != nil {
		g.f.Close()
		return fileError("reading "+path, err)
	}
	if end < g.size { // a line torn by a crash: it was never reported durable
		if err := g.f.Truncate(end); err != nil {
			g.f.Close()
			return fileError("cutting a torn line", err)
		}
		if err := g.f.Sync(); err != nil {
			g.f.Close()
			return fileError("fsync", err)
		}
		g.size = end
	}
	switch {
	case line != nil && isMarker(line):
		// A crash between writing the close marker and renaming: finish
		// the rotation, so no event follows a marker in one file.
		copy(g.head[:], lineHash(line))
		if err := g.rename(now); err != nil {
			return err
		}
	case line != nil:
		copy(g.head[:], lineHash(line))
		if chain {
			if g.events, err = countLines(g.f, g.size); err != nil {
				g.f.Close()
				return fileError("reading "+path, err)
			}
		}
	case lastSeg != "":
		l, err := segmentTail(lastSeg)
		if err != nil {
			g.f.Close()
			return fileError("reading "+lastSeg, err)
		}
		if l != nil {
			copy(g.head[:], lineHash(l))
		}
	}
	return syncDir(g.dir)
}

// openFile opens path for appending and notes its identity and size.
func (g *fileSegment) openFile() error {
	f, err := os.OpenFile(g.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fileError("opening", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fileError("stat", err)
	}
	g.f, g.fi, g.size, g.events = f, fi, fi.Size(), 0
	return nil
}

// check notices the file at path being removed or replaced (by hand or
// by a log rotator): the events written there are gone from the sink's
// view, which the caller must hear of. The sink reopens path, so the
// write after this one succeeds.
func (g *fileSegment) check(now time.Time) error {
	if g.broken {
		return errors.New("audit: file sink: file in an unknown state after an error")
	}
	fi, err := os.Stat(g.path)
	if err == nil && os.SameFile(fi, g.fi) {
		return nil
	}
	g.f.Close()
	if err := g.openFile(); err != nil {
		g.broken = true
		return err
	}
	g.opened = now
	if err := syncDir(g.dir); err != nil {
		g.broken = true
		return err
	}
	return errors.New("audit: file sink: " + g.path + " was removed or replaced; events written before are not there")
}

// write appends data and fsyncs it. After a failed write the file is cut
// back to its last good size; after a failed fsync its state is unknown.
func (g *fileSegment) write(data []byte) error {
	if g.broken {
		return errors.New("audit: file sink: file in an unknown state after an error")
	}
	if n, err := g.f.Write(data); err != nil {
		if n > 0 {
			if terr := g.f.Truncate(g.size); terr != nil {
				g.broken = true
			}
		}
		return fileError("write", err)
	}
	if err := g.f.Sync(); err != nil {
		g.broken = true
		return fileError("fsync", err)
	}
	g.size += int64(len(data))
	return nil
}

// rotate closes the segment (with a close marker when chained), renames
// it by time and starts a new one.
func (g *fileSegment) rotate(now time.Time) error {
	if g.broken {
		return errors.New("audit: file sink: file in an unknown state after an error")
	}
	if g.chain {
		m, err := markerLine(string(g.head[:]), g.events, now)
		if err != nil {
			return fileError("close marker", err)
		}
		if err := g.write(append(m, '\n')); err != nil {
			g.broken = true
			return err
		}
		copy(g.head[:], lineHash(m))
	}
	if err := g.rename(now); err != nil {
		g.broken = true
		return err
	}
	return nil
}

// rename moves the active file to its rotated name and opens a new one.
func (g *fileSegment) rename(now time.Time) error {
	name := g.rotatedName(now)
	if err := g.f.Close(); err != nil {
		return fileError("close", err)
	}
	if err := os.Rename(g.path, name); err != nil {
		return fileError("rotate", err)
	}
	if err := g.openFile(); err != nil {
		return err
	}
	g.opened = now
	return syncDir(g.dir)
}

// rotatedName returns a free name for the segment closed at now, later
// than every earlier one even if the clock stepped back.
func (g *fileSegment) rotatedName(now time.Time) string {
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(g.lastRotate) {
		t = g.lastRotate.Add(time.Millisecond)
	}
	for {
		name := filepath.Join(g.dir, g.stem+"-"+t.Format(rotatedLayout)+g.ext)
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			g.lastRotate = t
			return name
		}
		t = t.Add(time.Millisecond)
	}
}

// latestSegment finds the newest rotated segment of path, and notes its
// time so names keep increasing.
func (g *fileSegment) latestSegment() (string, error) {
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		return "", fileError("reading directory", err)
	}
	latest := ""
	for _, e := range entries {
		if t, ok := g.segmentTime(e.Name()); ok && t.After(g.lastRotate) {
			g.lastRotate, latest = t, filepath.Join(g.dir, e.Name())
		}
	}
	return latest, nil
}

// segmentTime parses the time in a rotated segment's name.
func (g *fileSegment) segmentTime(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, g.stem+"-")
	if !ok {
		return time.Time{}, false
	}
	ts, ok := strings.CutSuffix(rest, g.ext)
	if !ok || len(ts) != len(rotatedLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(rotatedLayout, ts)
	return t, err == nil
}

func (g *fileSegment) close() error {
	if g.f == nil {
		return nil
	}
	err := g.f.Close()
	g.f = nil
	if err != nil && !g.broken {
		return fileError("close", err)
	}
	return nil
}

// tailLine returns the last complete line of f's first size bytes and the
// offset just past its newline (0 when there is none).
func tailLine(f *os.File, size int64) ([]byte, int64, error) {
	for w := int64(64 << 10); ; w *= 2 {
		w = min(w, size)
		buf := make([]byte, w)
		if _, err := f.ReadAt(buf, size-w); err != nil && err != io.EOF {
			return nil, 0, err
		}
		line, end := lastLine(buf)
		switch {
		case end == 0 && w == size:
			return nil, 0, nil
		case end == 0:
			continue
		case bytes.LastIndexByte(buf[:end-1], '\n') < 0 && w < size:
			continue // the line may start before the window
		}
		return line, size - w + int64(end), nil
	}
}

// segmentTail returns the last complete line of the file at path.
func segmentTail(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	line, _, err := tailLine(f, fi.Size())
	return line, err
}

// countLines counts the newlines in f's first size bytes.
func countLines(f *os.File, size int64) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10)
	var n int64
	for {
		b, err := r.ReadSlice('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			n++
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return n, nil
		default:
			return n, err
		}
	}
}

// isMarker reports whether line is a segment's close marker.
func isMarker(line []byte) bool {
	if !bytes.Contains(line, []byte(SegmentClosedType)) {
		return false
	}
	var v struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(line, &v) == nil && v.Type == SegmentClosedType
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fileError("opening directory", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fileError("fsync directory", err)
	}
	return nil
}
