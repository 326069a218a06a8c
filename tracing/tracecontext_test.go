package tracing_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/paved-go/paved/tracing"
)

// W3C Trace Context Level 1 (https://www.w3.org/TR/trace-context-1/),
// tested section by section through Middleware, with spans on and off.

const (
	tcTraceID = "12345678901234567890123456789012"
	tcParent  = "00-" + tcTraceID + "-1234567890123456-01"
)

// field is one header field as sent on the wire: repeated names are
// separate fields.
type field struct{ name, value string }

// seenTrace serves one request with fields through tr.Middleware and
// returns the trace id and tracestate the handler's context carries
// ("" for the trace id when there is no valid span context).
func seenTrace(t *testing.T, tr *tracing.Tracer, fields []field) (traceID, tracestate string, sampled bool) {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	for _, f := range fields {
		req.Header.Add(f.name, f.value)
	}
	var sc trace.SpanContext
	tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc = trace.SpanContextFromContext(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), req)
	if !sc.IsValid() {
		return "", "", false
	}
	return sc.TraceID().String(), sc.TraceState().String(), sc.IsSampled()
}

// modes are the two ways a Middleware reads trace context: through
// otelhttp with spans on, and by itself with spans off.
func modes(t *testing.T) map[string]*tracing.Tracer {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	on, err := tracing.New(tracing.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	off, err := tracing.New(tracing.WithSpans(false))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*tracing.Tracer{"spans on": on, "spans off": off}
}

// checkContinued asserts that fields continue trace tcTraceID (or, when
// continued is false, that they do not).
func checkContinued(t *testing.T, fields []field, continued bool) {
	t.Helper()
	for mode, tr := range modes(t) {
		got, _, _ := seenTrace(t, tr, fields)
		if (got == tcTraceID) != continued {
			t.Errorf("%s: %q gave trace %q, continued %v, want %v", mode, fields, got, got == tcTraceID, continued)
		}
	}
}

// checkTracestate asserts that fields, with a valid traceparent first,
// continue the trace with tracestate want.
func checkTracestate(t *testing.T, fields []field, want string) {
	t.Helper()
	for mode, tr := range modes(t) {
		id, ts, _ := seenTrace(t, tr, append([]field{{"traceparent", tcParent}}, fields...))
		if id != tcTraceID {
			t.Errorf("%s: %q: trace not continued (%q)", mode, fields, id)
		}
		if ts != want {
			t.Errorf("%s: %q: tracestate %q, want %q", mode, fields, ts, want)
		}
	}
}

// §3.2: a request with more than one traceparent field starts a new trace.
func TestTraceContext_3_2_DuplicatedTraceparent(t *testing.T) {
	other := "00-" + strings.Repeat("ab", 16) + "-1234567890123456-01"
	tests := []struct {
		name      string
		fields    []field
		continued bool
	}{
		{"one", []field{{"traceparent", tcParent}}, true},
		{"two different", []field{{"traceparent", tcParent}, {"traceparent", other}}, false},
		{"two equal", []field{{"traceparent", tcParent}, {"traceparent", tcParent}}, false},
		{"valid then empty", []field{{"traceparent", tcParent}, {"traceparent", ""}}, false},
		{"name in any case", []field{{"TrAcEpArEnT", tcParent}}, true},
		{"wrong name", []field{{"trace-parent", tcParent}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkContinued(t, tc.fields, tc.continued) })
	}
}

// §3.2.2: traceparent field values; an invalid one is ignored.
func TestTraceContext_3_2_2_TraceparentFieldValues(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		continued bool
	}{
		{"valid sampled", tcParent, true},
		{"valid not sampled", "00-" + tcTraceID + "-1234567890123456-00", true},
		{"leading space", " " + tcParent, true},
		{"leading tab", "\t" + tcParent, true},
		{"trailing space and tab", tcParent + " \t", true},
		{"undefined flags ignored", "00-" + tcTraceID + "-1234567890123456-09", true},
		{"all flags", "00-" + tcTraceID + "-1234567890123456-ff", true},
		{"version too short", "0-" + tcTraceID + "-1234567890123456-01", false},
		{"version too long", "000-" + tcTraceID + "-1234567890123456-01", false},
		{"version illegal character", ".0-" + tcTraceID + "-1234567890123456-01", false},
		{"version upper case", "0A-" + tcTraceID + "-1234567890123456-01", false},
		{"trace-id all zero", "00-00000000000000000000000000000000-1234567890123456-01", false},
		{"trace-id illegal character", "00-." + tcTraceID[1:] + "-1234567890123456-01", false},
		{"trace-id upper case", "00-" + strings.ToUpper("abcdef7890123456789012345678901a") + "-1234567890123456-01", false},
		{"trace-id too long", "00-" + tcTraceID + "3-1234567890123456-01", false},
		{"trace-id too short", "00-" + tcTraceID[1:] + "-1234567890123456-01", false},
		{"parent-id all zero", "00-" + tcTraceID + "-0000000000000000-01", false},
		{"parent-id illegal character", "00-" + tcTraceID + "-123456789012345.-01", false},
		{"parent-id too long", "00-" + tcTraceID + "-12345678901234567-01", false},
		{"parent-id too short", "00-" + tcTraceID + "-123456789012345-01", false},
		{"flags illegal character", "00-" + tcTraceID + "-1234567890123456-.0", false},
		{"flags too long", "00-" + tcTraceID + "-1234567890123456-001", false},
		{"flags too short", "00-" + tcTraceID + "-1234567890123456-1", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkContinued(t, []field{{"traceparent", tc.value}}, tc.continued) })
	}
	t.Run("sampled flag kept, undefined flags dropped", func(t *testing.T) {
		for mode, tr := range modes(t) {
			for _, flags := range []string{"01", "09"} {
				if _, _, sampled := seenTrace(t, tr, []field{{"traceparent", "00-" + tcTraceID + "-1234567890123456-" + flags}}); !sampled {
					t.Errorf("%s: flags %s: not sampled", mode, flags)
				}
				// Vendors MUST set the undefined flags to zero: the trace
				// continues with 01, never 09.
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("traceparent", "00-"+tcTraceID+"-1234567890123456-"+flags)
				var got trace.TraceFlags
				tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got = trace.SpanContextFromContext(r.Context()).TraceFlags()
				})).ServeHTTP(httptest.NewRecorder(), req)
				if got != trace.FlagsSampled {
					t.Errorf("%s: flags %s: continued with flags %02x, want 01", mode, flags, byte(got))
				}
			}
		}
	})
}

// §3.2.4: versioning of traceparent.
func TestTraceContext_3_2_4_Versioning(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		continued bool
	}{
		{"higher version", "cc-" + tcTraceID + "-1234567890123456-01", true},
		{"higher version with more fields", "cc-" + tcTraceID + "-1234567890123456-01-what-the-future-will-be-like", true},
		{"higher version, flags not followed by a dash", "cc-" + tcTraceID + "-1234567890123456-01.what-the-future-will-be-like", false},
		{"higher version too short", "cc-" + tcTraceID + "-1234567890123456-1", false},
		{"version ff forbidden", "ff-" + tcTraceID + "-1234567890123456-01", false},
		{"version 00 with trailing characters", "00-" + tcTraceID + "-1234567890123456-01.", false},
		{"version 00 with more fields", "00-" + tcTraceID + "-1234567890123456-01-what-the-future-will-be-like", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkContinued(t, []field{{"traceparent", tc.value}}, tc.continued) })
	}
}

// §3.3: tracestate is read only with a valid traceparent.
func TestTraceContext_3_3_TracestateNeedsTraceparent(t *testing.T) {
	tests := []struct {
		name   string
		fields []field
	}{
		{"no traceparent", []field{{"tracestate", "foo=1"}}},
		{"invalid traceparent", []field{{"traceparent", "00-" + tcTraceID + "-0000000000000000-01"}, {"tracestate", "foo=1"}}},
		{"duplicated traceparent", []field{{"traceparent", tcParent}, {"traceparent", tcParent}, {"tracestate", "foo=1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for mode, tr := range modes(t) {
				if _, ts, _ := seenTrace(t, tr, tc.fields); ts != "" {
					t.Errorf("%s: tracestate %q kept", mode, ts)
				}
			}
		})
	}
}

// §3.3.1.1: several tracestate fields are combined into one list (RFC
// 9110 §5.3), and empty and whitespace-only members are allowed.
func TestTraceContext_3_3_1_1_CombinedTracestate(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"one field", []string{"foo=1,bar=2"}, "foo=1,bar=2"},
		{"empty field", []string{""}, ""},
		{"empty then member", []string{"", "foo=1"}, "foo=1"},
		{"member then empty", []string{"foo=1", ""}, "foo=1"},
		{"three fields in order", []string{"foo=1,bar=2", "rojo=1,congo=2", "baz=3"}, "foo=1,bar=2,rojo=1,congo=2,baz=3"},
		{"whitespace-only members", []string{" , foo=1,\t, ,bar=2,"}, "foo=1,bar=2"},
		{"optional whitespace around members", []string{"foo=1 \t , \t bar=2, \t baz=3"}, "foo=1,bar=2,baz=3"},
		{"same key in two fields is a duplicate", []string{"foo=1", "foo=2"}, ""},
		{"same member in two fields is a duplicate", []string{"foo=1", "foo=1"}, ""},
		{"name in any case", nil, "foo=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fields []field
			for _, v := range tc.values {
				fields = append(fields, field{"tracestate", v})
			}
			if tc.values == nil {
				fields = []field{{"TrAcEsTaTe", "foo=1"}}
			}
			checkTracestate(t, fields, tc.want)
		})
	}
}

// §3.3.1.2: a list has at most 32 members; a longer one is dropped.
func TestTraceContext_3_3_1_2_ListLimit(t *testing.T) {
	list := func(n int) string {
		var m []string
		for i := range n {
			m = append(m, fmt.Sprintf("k%d=%d", i, i))
		}
		return strings.Join(m, ",")
	}
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"32 members", []string{list(32)}, list(32)},
		{"33 members", []string{list(33)}, ""},
		{"32 members with empty ones", []string{list(16) + ",,", " ," + list(32)[len(list(16))+1:]}, list(32)},
		{"33 members over two fields", []string{list(16), list(33)[len(list(16))+1:]}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fields []field
			for _, v := range tc.values {
				fields = append(fields, field{"tracestate", v})
			}
			checkTracestate(t, fields, tc.want)
		})
	}
}

// §3.3.1.3: key and value grammar; a list with an invalid member is
// dropped whole, and the traceparent is still used.
func TestTraceContext_3_3_1_3_KeyValueGrammar(t *testing.T) {
	key := "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	var value strings.Builder
	for c := byte(0x20); c <= 0x7e; c++ {
		if c != ',' && c != '=' {
			value.WriteByte(c)
		}
	}
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"all key and value characters", key + "=" + value.String(), key + "=" + value.String()},
		{"multi-tenant key", key + "@a-z0-9_-*/=1", key + "@a-z0-9_-*/=1"},
		{"leading space kept in the value", "foo= 1", "foo= 1"},
		{"space before =", "foo =1", ""},
		{"upper-case key", "FOO=1", ""},
		{"dot in key", "foo.bar=1", ""},
		{"empty system id", "foo@=1,bar=2", ""},
		{"empty tenant id", "@foo=1,bar=2", ""},
		{"two @", "foo@@bar=1,bar=2", ""},
		{"three parts", "foo@bar@baz=1,bar=2", ""},
		{"system id too long", "t@abcdefghijklmno=1", ""},
		{"no =", "foo,bar=2", ""},
		{"empty value", "foo=,bar=2", ""},
		{"value with =", "foo=a=b", ""},
		{"value too long", "foo=" + strings.Repeat("v", 257), ""},
		{"longest value", "foo=" + strings.Repeat("v", 256), "foo=" + strings.Repeat("v", 256)},
		{"control character in value", "foo=a\x01b", ""},
		{"duplicate key", "foo=1,foo=1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkTracestate(t, []field{{"tracestate", tc.value}}, tc.want) })
	}
}

// forwarded serves a request with fields through tr's Middleware to a
// handler that proxies it, inbound header and all, to upURL through tr's
// Transport, and returns the header the upstream received (sent on got).
func forwarded(t *testing.T, tr *tracing.Tracer, upURL string, got <-chan http.Header, fields []field) http.Header {
	t.Helper()
	client := &http.Client{Transport: tr.Transport(nil)}
	defer client.CloseIdleConnections()
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, _ := http.NewRequestWithContext(r.Context(), "GET", upURL, nil)
		out.Header = r.Header.Clone() // a proxy forwarding the inbound fields
		resp, err := client.Do(out)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}))
	req := httptest.NewRequest("GET", "/", nil)
	for _, f := range fields {
		req.Header.Add(f.name, f.value)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	return <-got
}

// §3.4 and §3.5 (mutating the fields): an outgoing call carries exactly
// one traceparent and one tracestate, for the trace the context holds,
// even when the request already has fields copied from the inbound one
// (as a reverse proxy does).
func TestTraceContext_3_5_OutgoingFields(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer up.Close()

	for mode, tr := range modes(t) {
		t.Run(mode, func(t *testing.T) {
			hdr := forwarded(t, tr, up.URL, got, []field{{"traceparent", tcParent}, {"tracestate", ""}, {"tracestate", "foo=1"}})
			tp, ts := hdr.Values("Traceparent"), hdr.Values("Tracestate")
			if len(tp) != 1 || !strings.HasPrefix(tp[0], "00-"+tcTraceID+"-") {
				t.Errorf("traceparent fields %q, want one of trace %s", tp, tcTraceID)
			}
			if len(ts) != 1 || ts[0] != "foo=1" {
				t.Errorf("tracestate fields %q, want [foo=1]", ts)
			}
		})
	}
}

// TestTraceContext_3_5_OutgoingNewTrace checks the same for a call that
// starts a trace (spans on, no trace in the context): fields copied onto
// the request do not ride along with the new traceparent.
func TestTraceContext_3_5_OutgoingNewTrace(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer up.Close()
	tr := modes(t)["spans on"]
	client := &http.Client{Transport: tr.Transport(nil)}
	defer client.CloseIdleConnections()

	req, _ := http.NewRequest("GET", up.URL, nil)
	req.Header.Add("traceparent", tcParent)
	req.Header.Add("traceparent", tcParent)
	req.Header.Add("tracestate", "stale=1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hdr := <-got
	if tp := hdr.Values("Traceparent"); len(tp) != 1 || strings.Contains(tp[0], tcTraceID) {
		t.Errorf("traceparent fields %q, want one of a new trace", tp)
	}
	if ts := hdr.Values("Tracestate"); len(ts) != 0 {
		t.Errorf("tracestate fields %q, want none", ts)
	}
	if len(req.Header.Values("Traceparent")) != 2 {
		t.Error("the caller's request was modified")
	}
}

// TestTraceContext_3_5_OutgoingRefusedFields: when the inbound fields were
// refused (a duplicated or invalid traceparent, a tracestate alone) and no
// new trace was started (spans off, or a no-op TracerProvider), a proxy
// that copies the inbound header must not send them on: a downstream that
// reads the first of two traceparents would continue the trace this
// service restarted. A valid traceparent the caller set itself is kept.
func TestTraceContext_3_5_OutgoingRefusedFields(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer up.Close()
	off, err := tracing.New(tracing.WithSpans(false))
	if err != nil {
		t.Fatal(err)
	}
	noopOn, err := tracing.New(tracing.WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fields []field
	}{
		{"duplicated traceparent", []field{{"traceparent", tcParent}, {"traceparent", tcParent}, {"tracestate", "foo=1"}}},
		{"invalid traceparent", []field{{"traceparent", "00-" + tcTraceID + "-0000000000000000-01"}, {"tracestate", "foo=1"}}},
		{"tracestate alone", []field{{"tracestate", "foo=1"}}},
	}
	for mode, tr := range map[string]*tracing.Tracer{"spans off": off, "spans on, no-op provider": noopOn} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				hdr := forwarded(t, tr, up.URL, got, tc.fields)
				if tp, ts := hdr.Values("Traceparent"), hdr.Values("Tracestate"); len(tp) != 0 || len(ts) != 0 {
					t.Errorf("sent on traceparent %q, tracestate %q; want neither", tp, ts)
				}
			})
		}
	}
	t.Run("caller's own traceparent", func(t *testing.T) {
		client := &http.Client{Transport: off.Transport(nil)}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", up.URL, nil)
		req.Header.Set("traceparent", tcParent)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tp := (<-got).Values("Traceparent"); len(tp) != 1 || tp[0] != tcParent {
			t.Errorf("traceparent %q, want the caller's", tp)
		}
	})
}

// FuzzTracestateFields checks that two tracestate fields mean what the
// one field joining them with a comma means (RFC 9110 §5.3), and that
// what is kept is a valid list of at most 32 members.
func FuzzTracestateFields(f *testing.F) {
	for _, s := range [][2]string{
		{"", "foo=1"}, {"foo=1", ""}, {"foo=1,bar=2", "baz=3"}, {"foo=1", "foo=2"},
		{" , ", "a=1"}, {"a@b=1", "\t"}, {"x=1,,y=2", ", z=3 "}, {"FOO=1", "bar=2"},
	} {
		f.Add(s[0], s[1])
	}
	prop := tracing.TraceContext{}
	extract := func(values ...string) trace.SpanContext {
		h := http.Header{}
		h.Add("Traceparent", tcParent)
		for _, v := range values {
			h.Add("Tracestate", v)
		}
		return trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(h)))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		two, one := extract(a, b), extract(a+","+b)
		if two.TraceID().String() != tcTraceID {
			t.Fatalf("tracestate %q, %q lost the traceparent", a, b)
		}
		if two.TraceState().String() != one.TraceState().String() {
			t.Fatalf("fields %q, %q gave %q; one field gave %q", a, b, two.TraceState(), one.TraceState())
		}
		ts := two.TraceState()
		if ts.Len() > 32 {
			t.Fatalf("%d members kept", ts.Len())
		}
		if again, err := trace.ParseTraceState(ts.String()); err != nil || again.String() != ts.String() {
			t.Fatalf("kept %q, which does not parse back (%v)", ts, err)
		}
	})
}
