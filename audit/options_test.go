package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/audit"
)

func TestNewErrors(t *testing.T) {
	mem := newMemSink("mem")
	cases := []struct {
		name   string
		emName string
		opts   []audit.Option
		want   string
	}{
		{"empty name", "", []audit.Option{audit.WithSink(mem)}, "empty name"},
		{"no sink", "api", nil, "no sink"},
		{"nil option", "api", []audit.Option{audit.WithSink(mem), nil}, "option 1 to New is nil"},
		{"nil sink", "api", []audit.Option{audit.WithSink(nil)}, "nil sink"},
		{"same sink name", "api", []audit.Option{audit.WithSink(mem), audit.WithSink(newMemSink("mem"))}, "not unique"},
		{"sink option to New", "api", []audit.Option{audit.WithSink(mem), audit.WithSinkHMAC([]byte("0123456789abcdef"))}, "WithSinkHMAC does not apply to New"},
		{"New option to a sink", "api", []audit.Option{audit.WithSink(mem, audit.WithQueueSize(3))}, "WithQueueSize does not apply to WithSink"},
		{"short key", "api", []audit.Option{audit.WithSink(mem), audit.WithHMAC([]byte("short"))}, "WithHMAC"},
		{"queue size", "api", []audit.Option{audit.WithSink(mem), audit.WithQueueSize(0)}, "WithQueueSize"},
		{"batch", "api", []audit.Option{audit.WithSink(mem), audit.WithBatch(0, 0)}, "WithBatch"},
		{"batch delay", "api", []audit.Option{audit.WithSink(mem), audit.WithBatch(1, -time.Second)}, "WithBatch"},
		{"mode", "api", []audit.Option{audit.WithSink(mem), audit.WithMode(9)}, "WithMode"},
		{"timeout", "api", []audit.Option{audit.WithSink(mem), audit.WithTimeout(0)}, "WithTimeout"},
		{"level", "api", []audit.Option{audit.WithSink(mem), audit.WithLevel(0)}, "WithLevel"},
		{"route level", "api", []audit.Option{audit.WithSink(mem), audit.WithRoute("GET /x", audit.Route{Level: 9})}, "unknown level"},
		{"type", "api", []audit.Option{audit.WithSink(mem), audit.WithType("")}, "WithType"},
		{"source", "api", []audit.Option{audit.WithSink(mem), audit.WithSource("%zz")}, "WithSource"},
		{"bad pattern", "api", []audit.Option{audit.WithSink(mem), audit.WithRoute("GET /{", audit.Route{})}, "not a valid ServeMux pattern"},
		{"same pattern", "api", []audit.Option{audit.WithSink(mem), audit.WithRoute("GET /x", audit.Route{}), audit.WithRoute("GET /x", audit.Route{})}, "given twice"},
		{"body cap", "api", []audit.Option{audit.WithSink(mem), audit.WithMaxBodyBytes(0)}, "WithMaxBodyBytes"},
		{"redact", "api", []audit.Option{audit.WithSink(mem), audit.WithRedact("card..number")}, "WithRedact"},
		{"header", "api", []audit.Option{audit.WithSink(mem), audit.WithHeaders("")}, "WithHeaders"},
		{"error handler", "api", []audit.Option{audit.WithSink(mem), audit.WithErrorHandler(nil)}, "WithErrorHandler"},
		{"filter", "api", []audit.Option{audit.WithSink(mem), audit.WithFilter(nil)}, "WithFilter"},
		{"client ip", "api", []audit.Option{audit.WithSink(mem), audit.WithClientIP(nil)}, "WithClientIP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			em, err := audit.New(tc.emName, tc.opts...)
			if err == nil {
				closeEmitter(t, em)
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "audit: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
	// Every error at once.
	_, err := audit.New("", audit.WithQueueSize(0), audit.WithTimeout(-1))
	for _, want := range []string{"empty name", "WithQueueSize", "WithTimeout", "no sink"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v lacks %q", err, want)
		}
	}
}

func TestLevelAndModeStrings(t *testing.T) {
	for l, want := range map[audit.Level]string{audit.None: "None", audit.Metadata: "Metadata", audit.Request: "Request",
		audit.RequestResponse: "RequestResponse", 0: "Level(0)"} {
		if l.String() != want {
			t.Errorf("%d: %s", l, l)
		}
	}
	for m, want := range map[audit.Mode]string{audit.DropAndCount: "DropAndCount", audit.Block: "Block", audit.FailClosed: "FailClosed", 7: "Mode(7)"} {
		if m.String() != want {
			t.Errorf("%d: %s", m, m)
		}
	}
}

func TestLevelText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want audit.Level
		ok   bool
	}{
		{"None", audit.None, true}, {"metadata", audit.Metadata, true}, {"REQUEST", audit.Request, true},
		{"RequestResponse", audit.RequestResponse, true}, {"", 0, false}, {"Request Response", 0, false}, {"Level(3)", 0, false},
	} {
		var l audit.Level
		err := l.UnmarshalText([]byte(tc.in))
		if (err == nil) != tc.ok || l != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v", tc.in, l, err)
		}
		if tc.ok {
			if b, err := l.MarshalText(); err != nil || !strings.EqualFold(string(b), tc.in) {
				t.Errorf("MarshalText(%v) = %s, %v", l, b, err)
			}
		}
	}
	if _, err := audit.Level(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero Level: no error")
	}
}

func FuzzLevelText(f *testing.F) {
	for _, s := range []string{"None", "metadata", "Request", "requestresponse", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l audit.Level
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return
		}
		b, err := l.MarshalText()
		if err != nil || !strings.EqualFold(string(b), s) {
			t.Fatalf("%q -> %v -> %s, %v", s, l, b, err)
		}
	})
}
