package platform

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a document: where, as a JSON pointer
// (RFC 6901) into the document ("/paths/~1instances/post/x-platform/timeout";
// "" for the document as a whole), and what.
type Problem struct {
	Pointer string
	Message string
}

// String returns "pointer: message".
func (p Problem) String() string {
	if p.Pointer == "" {
		return p.Message
	}
	return p.Pointer + ": " + p.Message
}

// LoadError is every problem Load found in a document, ordered by pointer.
// Load returns it whenever the document cannot be served as written.
type LoadError struct {
	Problems []Problem
}

// Error lists the problems, one a line after the first.
func (e *LoadError) Error() string {
	if len(e.Problems) == 1 {
		return "platform: " + e.Problems[0].String()
	}
	var b strings.Builder
	b.WriteString("platform: " + strconv.Itoa(len(e.Problems)) + " problems:")
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}

// pointer joins tokens into a JSON pointer below base, escaping "~" and "/".
func pointer(base string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapeToken(t string) string { return tokenEscaper.Replace(t) }
