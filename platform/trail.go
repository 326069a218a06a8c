package platform

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/paved-go/paved/audit"
)

type auditSection struct {
	Level            string            `json:"level"`
	Type             string            `json:"type"`
	AdditionalFields map[string]string `json:"additionalFields"`
}

// trail compiles the audit sections into one audit.Emitter with a route
// per operation.
type trail struct {
	b       *builder
	routes  []audit.Option
	audited map[*operation]bool
	em      *audit.Emitter
}

func newTrail(b *builder) *trail { return &trail{b: b, audited: map[*operation]bool{}} }

func (t *trail) compile(op *operation) {
	v, ok := op.section("audit")
	if !ok || op.bad["audit"] {
		return
	}
	var s auditSection
	if err := decode(v, &s); err != nil {
		t.b.add(op.at("/audit"), err.Error())
		return
	}
	level := audit.Metadata
	if s.Level != "" {
		if err := level.UnmarshalText([]byte(s.Level)); err != nil {
			t.b.add(op.at("/audit/level"), "unknown level "+strconv.Quote(s.Level))
			return
		}
	}
	if level == audit.None || op.Pattern == "" {
		return
	}
	t.routes = append(t.routes, audit.WithRoute(op.Pattern, audit.Route{Level: level, Type: s.Type, Fields: s.AdditionalFields}))
	t.audited[op] = true
}

func (t *trail) build() {
	if len(t.routes) == 0 {
		return
	}
	opts := []audit.Option{audit.WithLogger(t.b.c.logger), audit.WithMeterProvider(t.b.c.meterProvider)}
	if t.b.c.clientIP != nil {
		opts = append(opts, audit.WithClientIP(t.b.c.clientIP))
	}
	if len(t.b.c.auditOpts) == 0 {
		opts = append(opts, audit.WithSink(audit.NewSlogSink(t.b.c.logger)))
	}
	opts = append(opts, t.b.c.auditOpts...)
	opts = append(opts, t.routes...)
	em, err := audit.New(t.b.c.name, opts...)
	if err == nil {
		t.em = em
		return
	}
	// Field expressions fail as "audit: WithRoute <pattern>: field "name": ...".
	ops := make([]*operation, 0, len(t.audited))
	for op := range t.audited {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Pointer < ops[j].Pointer })
	for _, e := range flatten(err) {
		msg := e.Error()
		placed := false
		for _, op := range ops {
			prefix := "audit: WithRoute " + op.Pattern + ": field "
			rest, ok := strings.CutPrefix(msg, prefix)
			if !ok {
				continue
			}
			name, tail, err := cutQuoted(rest)
			if err != nil {
				continue
			}
			msg, _, _ := strings.Cut(strings.TrimPrefix(tail, ": "), "\n") // no snippet
			t.b.add(op.at("/audit/additionalFields/"+escapeToken(name)), msg)
			placed = true
			break
		}
		if !placed {
			t.b.add("", msg)
		}
	}
}

// cutQuoted splits a Go-quoted string off the front of s.
func cutQuoted(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	name, err := strconv.Unquote(q)
	return name, s[len(q):], err
}

func (t *trail) middleware(op *operation) func(http.Handler) http.Handler {
	if t.em == nil || !t.audited[op] {
		return nil
	}
	return t.em.Middleware
}

func (t *trail) close(ctx context.Context) error {
	if t.em == nil {
		return nil
	}
	return t.em.Close(ctx)
}
