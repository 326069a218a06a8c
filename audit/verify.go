package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
)

// ErrChainBroken is what a *ChainError unwraps to.
var ErrChainBroken = errors.New("audit: hash chain broken")

// ChainError is the first broken link Verify found: the line where what
// the file says stops matching what the lines before it say.
type ChainError struct {
	File    string // the file's path as given to Verify
	Line    int    // 1-based line number in File
	EventID string // the line's event id, when it is readable
	Reason  string
}

// Error describes the break as file:line (id): reason.
func (e *ChainError) Error() string {
	s := "audit: hash chain broken at " + e.File + ":" + strconv.Itoa(e.Line)
	if e.EventID != "" {
		s += " (event " + e.EventID + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrChainBroken.
func (e *ChainError) Unwrap() error { return ErrChainBroken }

// VerifyResult is what Verify read.
type VerifyResult struct {
	Files  int // files read
	Lines  int // complete lines read, close markers included
	Events int // lines that are not close markers
	// Chained says the lines carry a hash chain (WithHashChain). Without
	// it Verify only checks that every line is a JSON object with an id.
	Chained bool
	// FromGenesis says the first line chains to GenesisHash: the files
	// start at the first segment ever written. When it is false, earlier
	// segments (or the first lines) are not among the files given.
	FromGenesis bool
	// LastHash is the hash of the last complete line. Nothing in the
	// files protects that line; keep LastHash elsewhere to anchor it.
	LastHash string
	// LastID is the event id of the last complete line.
	LastID string
	// Truncated says the last file ends in a torn line, as a crash in the
	// middle of a write leaves it. That line was never reported durable;
	// it is not counted and not a break.
	Truncated bool
}

// Verify reads the files at paths in order (rotated segments oldest
// first, then the active file: audit-*.jsonl sorts in time order before
// audit.jsonl) and checks that each line is a JSON object with an id and,
// when the lines carry a hash chain, that each line's prevhash is the hash
// of the line before it, across files (the lines are chained or not
// according to the first one; a mix is a break); that every segment but the last
// ends with its close marker, which counts its events; and that nothing
// follows a close marker in its file.
//
// It returns a *ChainError (errors.Is ErrChainBroken) for the first
// broken link, with the result up to it, or another error when a file
// cannot be read. A torn last line in the last file is reported in
// VerifyResult.Truncated, not as a break.
func Verify(paths ...string) (VerifyResult, error) {
	v := chainVerifier{}
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return v.res, errors.New("audit: Verify: " + err.Error())
		}
		err = v.file(p, f, i == len(paths)-1)
		f.Close()
		if err != nil {
			return v.res, err
		}
	}
	return v.res, nil
}

// chainVerifier holds the state of a check that spans files.
type chainVerifier struct {
	res  VerifyResult
	prev string // hash of the last line read
}

func (v *chainVerifier) file(name string, r io.Reader, last bool) error {
	v.res.Files++
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		lineNo  int
		events  int64
		closed  bool
		partial []byte
	)
	brk := func(id, reason string) error {
		return &ChainError{File: name, Line: lineNo, EventID: id, Reason: reason}
	}
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			partial = append(partial, b...)
			continue
		}
		if partial != nil {
			b = append(partial, b...)
			partial = nil
		}
		if err == io.EOF {
			if len(b) == 0 {
				break
			}
			lineNo++
			if last {
				v.res.Truncated = true
				break
			}
			return brk("", "segment ends in a torn line")
		}
		if err != nil {
			return errors.New("audit: Verify: " + name + ": " + err.Error())
		}
		lineNo++
		line := b[:len(b)-1]
		var ev struct {
			ID       string  `json:"id"`
			Type     string  `json:"type"`
			PrevHash *string `json:"prevhash"`
			Data     struct {
				Events *int64 `json:"events"`
			} `json:"data"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return brk("", "not a JSON event: "+err.Error())
		}
		if ev.ID == "" {
			return brk("", "event without an id")
		}
		if closed {
			return brk(ev.ID, "line after the segment's close marker")
		}
		first := v.res.Lines == 0
		if first {
			v.res.Chained = ev.PrevHash != nil
			v.res.FromGenesis = v.res.Chained && *ev.PrevHash == GenesisHash
		}
		if v.res.Chained {
			switch {
			case ev.PrevHash == nil:
				return brk(ev.ID, "line without prevhash in a chained file")
			case !first && *ev.PrevHash != v.prev:
				reason := "prevhash does not match the line before"
				if lineNo == 1 {
					reason = "prevhash does not match the previous segment's last line"
				}
				return brk(ev.ID, reason+" (a line was altered, removed, inserted or moved)")
			}
			v.prev = lineHash(line)
			if ev.Type == SegmentClosedType {
				if ev.Data.Events == nil || *ev.Data.Events != events {
					return brk(ev.ID, "close marker does not count the segment's "+strconv.FormatInt(events, 10)+" events")
				}
				closed = true
			}
		} else {
			if ev.PrevHash != nil {
				return brk(ev.ID, "line with prevhash in a file whose first line has none")
			}
			v.prev = lineHash(line)
		}
		v.res.Lines++
		v.res.LastHash, v.res.LastID = v.prev, ev.ID
		if !closed {
			v.res.Events++
			events++
		}
	}
	if v.res.Chained && !last && !closed {
		lineNo++
		return brk("", "segment ends without its close marker")
	}
	return nil
}
