package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
)

// GenesisHash is the prevhash of the first line of the first segment of a
// hash-chained file: 64 zeros, the hex form of a SHA-256 sum of all zero
// bits. Every later line carries the hex SHA-256 of the line before it.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// SegmentClosedType is the CloudEvents type of the line a FileSink with a
// hash chain writes last into a segment before rotating it. Its prevhash
// is the hash of the segment's last event, its data counts the segment's
// events ({"events": n}), and the next segment's first line chains to the
// hash of this marker, as CloudTrail chains its digest files.
const SegmentClosedType = "dev.paved.audit.segment.closed"

// markerSource is the source of the close-marker events a FileSink writes.
const markerSource = "/paved/audit/file"

// hashLen is the length of a hex SHA-256 sum.
const hashLen = 2 * sha256.Size

// chainField starts the prevhash member spliced into each chained line.
var chainField = []byte(`"prevhash":"`)

// lineHash returns the hex SHA-256 of one line, without its newline.
func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// appendChained appends line (one JSON object without prevhash, no
// newlineByte) to dst with prevhash set to prev, and a newline. It returns
// dst and the hash of the appended line.
func appendChained(dst, line []byte, prev *[hashLen]byte) ([]byte, [sha256.Size]byte) {
	start := len(dst)
	dst = append(dst, '{')
	dst = append(dst, chainField...)
	dst = append(dst, prev[:]...)
	dst = append(dst, '"')
	if len(line) > 2 { // not "{}": more members follow
		dst = append(dst, ',')
	}
	dst = append(dst, line[1:]...)
	sum := sha256.Sum256(dst[start:])
	dst = append(dst, '\n')
	return dst, sum
}

// markerLine encodes the close marker of a segment of n events whose last
// line hashed to prev.
func markerLine(prev string, n int64, now time.Time) ([]byte, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	m := struct {
		SpecVersion     string    `json:"specversion"`
		ID              string    `json:"id"`
		Source          string    `json:"source"`
		Type            string    `json:"type"`
		Time            time.Time `json:"time"`
		DataContentType string    `json:"datacontenttype"`
		PrevHash        string    `json:"prevhash"`
		Data            struct {
			Events int64 `json:"events"`
		} `json:"data"`
	}{
		SpecVersion:     SpecVersion,
		ID:              id.String(),
		Source:          markerSource,
		Type:            SegmentClosedType,
		Time:            now.UTC(),
		DataContentType: "application/json",
		PrevHash:        prev,
	}
	m.Data.Events = n
	return json.Marshal(&m)
}

// lastLine returns the last complete line of b (without its newlineByte) and
// the length of b up to and including that line's newline; a torn tail
// after it is not part of either.
func lastLine(b []byte) (line []byte, end int) {
	end = bytes.LastIndexByte(b, '\n') + 1
	if end == 0 {
		return nil, 0
	}
	start := bytes.LastIndexByte(b[:end-1], '\n') + 1
	return b[start : end-1], end
}

var errNewline = errors.New("audit: file sink: encoded event contains a newline")
