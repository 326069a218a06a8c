package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// readBody reads r's body, at most max bytes, parses it as JSON nested at
// most depth deep, and puts the bytes back for the handler. An empty body
// is nil.
func readBody(r *http.Request, max int64, depth int) (any, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, ErrBodyTooLarge
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, max+1))
	r.Body = &restoredBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), orig: orig}
	if err != nil {
		return nil, errors.Join(ErrBadBody, err)
	}
	if int64(len(buf)) > max {
		return nil, ErrBodyTooLarge
	}
	return parseJSON(buf, depth)
}

// restoredBody is a request body read by the middleware and put back.
type restoredBody struct {
	io.Reader
	orig io.Closer
}

func (b *restoredBody) Close() error { return b.orig.Close() }

// parseJSON parses data as one JSON value nested at most depth deep; nil
// for empty data.
func parseJSON(data []byte, depth int) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if !shallow(data, depth) {
		return nil, ErrBadBody
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, ErrBadBody
	}
	return v, nil
}

// shallow reports whether the arrays and objects in data nest at most
// depth deep, so no deep value reaches expr's builtins.
func shallow(data []byte, depth int) bool {
	d := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			d++
			if d > depth {
				return false
			}
		case c == ']' || c == '}':
			d--
		}
	}
	return true
}
