package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/faults"
)

func TestOffByDefault(t *testing.T) {
	inj, err := faults.New("off")
	if err != nil {
		t.Fatal(err)
	}
	if inj.Active() || inj.Rules() != nil {
		t.Fatalf("a new Injector is active: %v", inj.Rules())
	}
	if f := inj.Pick(t.Context(), faults.Call{Method: "GET", Path: "/"}); f.Injected() {
		t.Fatalf("a new Injector picked %v", f.Rule())
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []faults.Option
		want string
	}{
		{"nil option", []faults.Option{nil}, "faults: option 0 is nil"},
		{"nil source", []faults.Option{faults.WithRand(nil)}, "faults: WithRand: nil source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := faults.New("x", tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSetValidates(t *testing.T) {
	ok := faults.Rule{Name: "ok", Percent: 10, Status: 503}
	for _, tc := range []struct {
		name string
		rule faults.Rule
		want string // in the error; "" for a valid rule
	}{
		{"minimal error", ok, ""},
		{"latency only", faults.Rule{Name: "slow", Percent: 100, Latency: time.Second, Jitter: time.Second}, ""},
		{"jitter only", faults.Rule{Name: "slow", Percent: 1, Jitter: time.Second}, ""},
		{"grpc code only", faults.Rule{Name: "g", Percent: 1, GRPCCode: "UNAVAILABLE"}, ""},
		{"reset", faults.Rule{Name: "r", Percent: 1, Reset: true, Latency: time.Millisecond}, ""},
		{"abort", faults.Rule{Name: "a", Percent: 0.01, Abort: true}, ""},
		{"no name", faults.Rule{Percent: 10, Status: 503}, "name must be"},
		{"name with space", faults.Rule{Name: "a b", Percent: 10, Status: 503}, "name must be"},
		{"name too long", faults.Rule{Name: strings.Repeat("a", 65), Percent: 10, Status: 503}, "name must be"},
		{"zero percent", faults.Rule{Name: "x", Status: 503}, "percent 0 not in (0, 100]"},
		{"over 100 percent", faults.Rule{Name: "x", Percent: 101, Status: 503}, "not in (0, 100]"},
		{"negative latency", faults.Rule{Name: "x", Percent: 1, Latency: -1}, "negative latency"},
		{"too slow", faults.Rule{Name: "x", Percent: 1, Latency: 5 * time.Minute, Jitter: 1}, "latency plus jitter over 5m0s"},
		{"status 200", faults.Rule{Name: "x", Percent: 1, Status: 200}, "status 200 not in 400-599"},
		{"unknown code", faults.Rule{Name: "x", Percent: 1, GRPCCode: "Unavailable"}, "is not a gRPC code name"},
		{"code OK", faults.Rule{Name: "x", Percent: 1, GRPCCode: "OK"}, "other than OK"},
		{"error and reset", faults.Rule{Name: "x", Percent: 1, Status: 503, Reset: true}, "at most one of"},
		{"reset and abort", faults.Rule{Name: "x", Percent: 1, Reset: true, Abort: true}, "at most one of"},
		{"nothing", faults.Rule{Name: "x", Percent: 1}, "injects nothing"},
		{"bad method", faults.Rule{Name: "x", Percent: 1, Status: 503, Match: faults.Match{Method: "GE T"}}, "not an HTTP method"},
		{"relative prefix", faults.Rule{Name: "x", Percent: 1, Status: 503, Match: faults.Match{PathPrefix: "api"}}, "path_prefix must start"},
		{"relative grpc method", faults.Rule{Name: "x", Percent: 1, Status: 503, Match: faults.Match{GRPCMethod: "pkg.Svc/M"}}, "grpc_method must start"},
		{"bad header", faults.Rule{Name: "x", Percent: 1, Status: 503, Match: faults.Match{Header: ": on"}}, "match.header"},
		{"grpc and http", faults.Rule{Name: "x", Percent: 1, Status: 503, Match: faults.Match{Method: "GET", GRPCMethod: "/a/b"}}, "matches nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := quiet(t, ok)
			err := inj.Set(tc.rule)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Set(%+v): %v", tc.rule, err)
				}
				if got := inj.Rules(); len(got) != 1 || got[0] != tc.rule {
					t.Fatalf("Rules() = %+v, want [%+v]", got, tc.rule)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "faults: ") {
				t.Fatalf("Set(%+v): %v, want an error with %q", tc.rule, err, tc.want)
			}
			if got := inj.Rules(); len(got) != 1 || got[0] != ok {
				t.Fatalf("a refused Set changed the rules to %+v", got)
			}
		})
	}
}

func TestSetRefusesRepeatedNamesAndTooManyRules(t *testing.T) {
	inj := quiet(t)
	r := faults.Rule{Name: "x", Percent: 1, Status: 503}
	if err := inj.Set(r, r); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("Set of a repeated name: %v", err)
	}
	many := make([]faults.Rule, faults.MaxRules+1)
	for i := range many {
		many[i] = faults.Rule{Name: "r" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Percent: 1, Status: 503}
	}
	if err := inj.Set(many...); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Fatalf("Set of %d rules: %v", len(many), err)
	}
	if inj.Active() {
		t.Fatal("a refused Set switched faults on")
	}
}

func TestSetClearAndLogs(t *testing.T) {
	var buf bytes.Buffer
	inj, err := faults.New("drills", faults.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := inj.Set(faults.Rule{Name: "drill", Percent: 100, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if !inj.Active() {
		t.Fatal("not active after Set")
	}
	inj.Pick(t.Context(), faults.Call{Method: "GET"})
	inj.Clear()
	inj.Clear() // already off: not logged again
	if err := inj.Set(); err != nil || inj.Active() {
		t.Fatalf("Set() = %v, active %v; want a Clear", err, inj.Active())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="faults: rules set: faults are being injected" faults=drills rules=[drill]`,
		`level=INFO msg="faults: injected" faults=drills fault=true rule=drill kind=error`,
		`level=WARN msg="faults: rules cleared" faults=drills`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logged\n%s\nwant %d lines", buf.String(), len(want))
	}
	for i, w := range want {
		if _, after, _ := strings.Cut(lines[i], " "); after != w {
			t.Errorf("line %d: %q, want %q", i, after, w)
		}
	}
}

func TestRatesWithinBounds(t *testing.T) {
	const draws = 10000
	for _, percent := range []float64{0.5, 1, 10, 25, 50, 90, 99.9, 100} {
		t.Run(strconv.FormatFloat(percent, 'g', -1, 64)+"%", func(t *testing.T) {
			inj := quiet(t, faults.Rule{Name: "r", Percent: percent, Status: 503})
			n := 0
			for range draws {
				if inj.Pick(t.Context(), faults.Call{Method: "GET"}).Injected() {
					n++
				}
			}
			got := float64(n) / draws * 100
			if got < percent-3 || got > percent+3 || (percent == 100 && n != draws) {
				t.Fatalf("%d of %d draws injected (%.2f%%), want %v%% ± 3", n, draws, got, percent)
			}
		})
	}
}

func TestSeedRepeats(t *testing.T) {
	seq := func() []bool {
		inj := quiet(t, faults.Rule{Name: "r", Percent: 50, Status: 503})
		out := make([]bool, 100)
		for i := range out {
			out[i] = inj.Pick(t.Context(), faults.Call{}).Injected()
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs between two Injectors of the same seed", i)
		}
	}
}

func TestJitterStaysInRange(t *testing.T) {
	inj := quiet(t, faults.Rule{Name: "slow", Percent: 100, Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond})
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := inj.Pick(t.Context(), faults.Call{}).Delay()
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 100*time.Millisecond || hi >= 150*time.Millisecond || hi-lo < 40*time.Millisecond {
		t.Fatalf("delays in [%v, %v], want spread over [100ms, 150ms)", lo, hi)
	}
}

type header map[string]string

func (h header) Get(name string) string { return h[name] }

func TestMatch(t *testing.T) {
	ops := authz.WithPrincipal(context.Background(), &authz.Principal{ID: "ops"})
	bob := authz.WithPrincipal(context.Background(), &authz.Principal{ID: "bob"})
	bg := context.Background()
	get := faults.Call{Method: "GET", Route: "GET /instances/{id}", Path: "/instances/7", Host: "upstream:8080",
		Header: http.Header{"X-Drill": {"on"}, "X-Empty": {""}}}
	for _, tc := range []struct {
		name    string
		match   faults.Match
		ctx     context.Context
		call    faults.Call
		matches bool
	}{
		{"empty matches all", faults.Match{}, bg, get, true},
		{"empty matches grpc", faults.Match{}, bg, faults.Call{GRPCMethod: "/a.B/C"}, true},
		{"method", faults.Match{Method: "GET"}, bg, get, true},
		{"other method", faults.Match{Method: "POST"}, bg, get, false},
		{"route", faults.Match{Route: "GET /instances/{id}"}, bg, get, true},
		{"other route", faults.Match{Route: "GET /instances"}, bg, get, false},
		{"path prefix", faults.Match{PathPrefix: "/instances"}, bg, get, true},
		{"other prefix", faults.Match{PathPrefix: "/launch"}, bg, get, false},
		{"host", faults.Match{Host: "upstream:8080"}, bg, get, true},
		{"host without port", faults.Match{Host: "upstream"}, bg, get, false},
		{"header value", faults.Match{Header: "X-Drill: on"}, bg, get, true},
		{"header name in any case", faults.Match{Header: "x-drill:on"}, bg, get, true},
		{"header other value", faults.Match{Header: "X-Drill: off"}, bg, get, false},
		{"header present", faults.Match{Header: "X-Drill"}, bg, get, true},
		{"header present but empty", faults.Match{Header: "X-Empty"}, bg, get, true},
		{"header absent", faults.Match{Header: "X-Other"}, bg, get, false},
		{"header without headers", faults.Match{Header: "X-Drill"}, bg, faults.Call{}, false},
		{"header of another type", faults.Match{Header: "x-drill: on"}, bg, faults.Call{Header: header{"X-Drill": "on"}}, true},
		{"metadata", faults.Match{Header: "X-Drill: on"}, bg, faults.Call{GRPCMethod: "/a.B/C", Metadata: func(_ context.Context, name string) string { return header{"x-drill": "on"}[name] }}, true},
		{"principal", faults.Match{Principal: "ops"}, ops, get, true},
		{"other principal", faults.Match{Principal: "ops"}, bob, get, false},
		{"no principal", faults.Match{Principal: "ops"}, bg, get, false},
		{"grpc method", faults.Match{GRPCMethod: "/a.B/C"}, bg, faults.Call{GRPCMethod: "/a.B/C"}, true},
		{"grpc service", faults.Match{GRPCMethod: "/a.B/"}, bg, faults.Call{GRPCMethod: "/a.B/C"}, true},
		{"other grpc method", faults.Match{GRPCMethod: "/a.B/D"}, bg, faults.Call{GRPCMethod: "/a.B/C"}, false},
		{"grpc method on http", faults.Match{GRPCMethod: "/a.B/C"}, bg, get, false},
		{"http method on grpc", faults.Match{Method: "POST"}, bg, faults.Call{Method: "POST", GRPCMethod: "/a.B/C"}, false},
		{"all fields", faults.Match{Method: "GET", Route: "GET /instances/{id}", PathPrefix: "/inst", Host: "upstream:8080", Header: "X-Drill: on", Principal: "ops"}, ops, get, true},
		{"all fields but one", faults.Match{Method: "GET", Route: "GET /instances/{id}", PathPrefix: "/inst", Host: "upstream:8080", Header: "X-Drill: on", Principal: "ops"}, bob, get, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := quiet(t, faults.Rule{Name: "m", Percent: 100, Status: 503, Match: tc.match})
			if got := inj.Pick(tc.ctx, tc.call).Injected(); got != tc.matches {
				t.Fatalf("Pick matched %v, want %v", got, tc.matches)
			}
		})
	}
}

func TestFirstMatchingRuleApplies(t *testing.T) {
	inj := quiet(t,
		faults.Rule{Name: "never", Percent: 100, Status: 500, Match: faults.Match{Method: "DELETE"}},
		faults.Rule{Name: "half", Percent: 50, Status: 502},
		faults.Rule{Name: "rest", Percent: 100, Status: 503},
	)
	got := map[string]int{}
	for range 1000 {
		got[inj.Pick(t.Context(), faults.Call{Method: "GET"}).Rule().Name]++
	}
	if got["never"] != 0 || got["half"] < 450 || got["half"] > 550 || got["half"]+got["rest"] != 1000 {
		t.Fatalf("rules applied %v, want half and rest sharing 1000", got)
	}
}

func TestFaultErr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rule   faults.Rule
		msg    string
		status int
		is     error
	}{
		{"latency", faults.Rule{Name: "l", Percent: 100, Latency: time.Millisecond}, "", 0, nil},
		{"status", faults.Rule{Name: "e", Percent: 100, Status: 429}, "faults: injected error (rule e)", 429, nil},
		{"grpc code", faults.Rule{Name: "g", Percent: 100, GRPCCode: "UNAVAILABLE"}, "faults: injected error (rule g)", 503, nil},
		{"reset", faults.Rule{Name: "r", Percent: 100, Reset: true}, "faults: injected reset (rule r): read tcp: read: connection reset by peer", 502, syscall.ECONNRESET},
		{"abort", faults.Rule{Name: "a", Percent: 100, Abort: true}, "faults: injected abort (rule a): unexpected EOF", 502, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := quiet(t, tc.rule).Pick(t.Context(), faults.Call{})
			err := f.Err()
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			ie, ok := errors.AsType[*faults.InjectedError](err)
			if !ok || err.Error() != tc.msg || ie.HTTPStatus() != tc.status || ie.Rule != tc.rule.Name || ie.Kind != f.Kind() {
				t.Fatalf("Err() = %#v (%v), want %q with status %d", err, err, tc.msg, tc.status)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Err() = %v, does not unwrap to %v", err, tc.is)
			}
		})
	}
}

func TestObservability(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	inj, err := faults.New("drills", faults.WithMeterProvider(mp), faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := inj.Set(faults.Rule{Name: "drill", Percent: 100, Status: 503, Match: faults.Match{Method: "POST"}}); err != nil {
		t.Fatal(err)
	}
	ctx, span := tp.Tracer("test").Start(t.Context(), "request")
	inj.Pick(ctx, faults.Call{Method: "POST"})
	inj.Pick(ctx, faults.Call{Method: "POST"})
	inj.Pick(ctx, faults.Call{Method: "GET"})
	span.End()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "paved.faults.injected" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				want := attribute.NewSet(attribute.String("paved.faults.name", "drills"), attribute.String("rule", "drill"), attribute.String("kind", "error"))
				if !dp.Attributes.Equals(&want) {
					t.Errorf("attributes %v, want %v", dp.Attributes.ToSlice(), want.ToSlice())
				}
				total += dp.Value
			}
		}
	}
	if total != 2 {
		t.Fatalf("paved.faults.injected = %d, want 2", total)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	events := 0
	for _, e := range spans[0].Events() {
		if e.Name == "faults.injected" {
			events++
		}
	}
	var ruleAttr string
	for _, kv := range spans[0].Attributes() {
		if kv.Key == "paved.faults.rule" {
			ruleAttr = kv.Value.AsString()
		}
	}
	if events != 2 || ruleAttr != "drill" {
		t.Fatalf("%d faults.injected events, paved.faults.rule %q; want 2, drill", events, ruleAttr)
	}
}

func TestRuleJSON(t *testing.T) {
	r := faults.Rule{Name: "drill", Percent: 12.5, Latency: 200 * time.Millisecond, Jitter: 50 * time.Millisecond,
		GRPCCode: "UNAVAILABLE", Match: faults.Match{Method: "GET", Header: "X-Drill: on"}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"drill","percent":12.5,"match":{"method":"GET","header":"X-Drill: on"},"latency":"200ms","jitter":"50ms","grpc_code":"UNAVAILABLE"}`
	if string(b) != want {
		t.Fatalf("Marshal = %s\nwant      %s", b, want)
	}
	var back faults.Rule
	if err := json.Unmarshal(b, &back); err != nil || back != r {
		t.Fatalf("Unmarshal = %+v, %v; want %+v", back, err, r)
	}
}
