package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paved-go/paved/breaker"
)

var errNotFound = errors.New("not found")

func TestOutcomes(t *testing.T) {
	classify := func(ctx context.Context, err error) breaker.Outcome {
		switch {
		case errors.Is(err, errNotFound):
			return breaker.Success
		case errors.Is(err, errSkip):
			return breaker.Ignored
		}
		return breaker.DefaultClassifier(ctx, err)
	}
	tests := []struct {
		name       string
		ctx        func() context.Context
		took       time.Duration
		err        error
		wantCounts breaker.Counts
		wantResult string
	}{
		{name: "success", wantCounts: breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}, wantResult: "success"},
		{name: "failure", err: errBoom, wantCounts: breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}, wantResult: "failure"},
		{name: "deadline exceeded is a failure", err: context.DeadlineExceeded,
			ctx: func() context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = cancel
				time.Sleep(time.Second)
				return ctx
			},
			wantCounts: breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}, wantResult: "failure"},
		{name: "caller canceled is ignored", err: context.Canceled,
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantResult: "ignored"},
		{name: "canceled downstream, caller alive, is a failure", err: fmt.Errorf("dial: %w", context.Canceled),
			wantCounts: breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}, wantResult: "failure"},
		{name: "slow success", took: 2 * time.Second, wantCounts: breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}, wantResult: "slow"},
		{name: "at the threshold is not slow", took: time.Second, wantCounts: breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}, wantResult: "success"},
		{name: "slow failure is a failure", took: 2 * time.Second, err: errBoom, wantCounts: breaker.Counts{Calls: 1, Failures: 1, ConsecutiveFailures: 1}, wantResult: "failure"},
		{name: "classified success", err: errNotFound, wantCounts: breaker.Counts{Calls: 1, ConsecutiveSuccesses: 1}, wantResult: "success"},
		{name: "classified ignored", err: errSkip, wantResult: "ignored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMeter(t)
				b := mustNew(t, "t", breaker.WithMeterProvider(m), breaker.WithSlowCallThreshold(time.Second), breaker.WithClassifier(classify))
				ctx := context.Background()
				if tc.ctx != nil {
					ctx = tc.ctx()
				}
				err := b.Do(ctx, func(context.Context) error {
					time.Sleep(tc.took)
					return tc.err
				})
				if err != tc.err {
					t.Fatalf("Do = %v, want the call's own error %v", err, tc.err)
				}
				if c := b.Counts(); c != tc.wantCounts {
					t.Errorf("counts %+v, want %+v", c, tc.wantCounts)
				}
				if got, want := m.calls(t, "t"), map[string]int64{tc.wantResult: 1}; !maps.Equal(got, want) {
					t.Errorf("paved.breaker.calls %v, want %v", got, want)
				}
			})
		})
	}
}

var errSkip = errors.New("skip me")

func TestCanceledCallsNeverTrip(t *testing.T) {
	b := mustNew(t, "t")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		_ = b.Do(ctx, func(ctx context.Context) error { return ctx.Err() })
	}
	if st, c := b.State(), b.Counts(); st != breaker.StateClosed || c != (breaker.Counts{}) {
		t.Fatalf("after 50 canceled calls: %v %+v", st, c)
	}
}

func TestPanicCountsAsFailureAndRepanics(t *testing.T) {
	m := newMeter(t)
	var transitions []string
	b := mustNew(t, "t", breaker.WithConsecutiveFailures(1), breaker.WithMeterProvider(m),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			transitions = append(transitions, from.String()+">"+to.String())
		}))
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want the original panic value", p)
			}
		}()
		_ = b.Do(context.Background(), func(context.Context) error { panic("kaboom") })
	}()
	if st := b.State(); st != breaker.StateOpen {
		t.Fatalf("state %v, want open", st)
	}
	if got := m.calls(t, "t"); !maps.Equal(got, map[string]int64{"failure": 1}) {
		t.Fatalf("calls %v", got)
	}
	if !equal(transitions, []string{"closed>open"}) {
		t.Fatalf("transitions %v", transitions)
	}
}

func TestFallback(t *testing.T) {
	errStale := errors.New("served stale")
	tests := []struct {
		name    string
		tripped bool
		fn      func(context.Context) error
		wantErr error
		wantArg string // the error the fallback saw; "" when not called
	}{
		{"rejected", true, succeed, nil, "breaker: open"},
		{"failed", false, fail, errStale, "boom"},
		{"succeeded", false, succeed, nil, ""},
		{"ignored", false, func(context.Context) error { return errSkip }, errSkip, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var saw string
			b := mustNew(t, "t", breaker.WithConsecutiveFailures(1),
				breaker.WithClassifier(func(ctx context.Context, err error) breaker.Outcome {
					if err == errSkip {
						return breaker.Ignored
					}
					return breaker.DefaultClassifier(ctx, err)
				}),
				breaker.WithFallback(func(_ context.Context, err error) error {
					saw = err.Error()
					if errors.Is(err, breaker.ErrOpen) {
						return nil // e.g. served a cached value
					}
					return errStale
				}))
			if tc.tripped {
				_ = b.DoWith(context.Background(), nil, fail) // DoWith skips the fallback
				if saw != "" {
					t.Fatal("DoWith ran the fallback")
				}
			}
			if err := b.Do(context.Background(), tc.fn); err != tc.wantErr {
				t.Fatalf("Do = %v, want %v", err, tc.wantErr)
			}
			if saw != tc.wantArg {
				t.Fatalf("fallback saw %q, want %q", saw, tc.wantArg)
			}
		})
	}
}

func TestCall(t *testing.T) {
	ctx := context.Background()
	b := mustNew(t, "t", breaker.WithConsecutiveFailures(2))
	answer := func(context.Context) (int, error) { return 42, nil }
	broken := func(context.Context) (int, error) { return -1, errBoom }
	last := func(_ context.Context, err error) (int, error) { return 41, nil }

	if v, err := breaker.Call(ctx, b, answer); v != 42 || err != nil {
		t.Fatalf("Call = %d, %v", v, err)
	}
	if v, err := breaker.CallWithFallback(ctx, b, broken, last); v != 41 || err != nil {
		t.Fatalf("CallWithFallback on failure = %d, %v", v, err)
	}
	if v, err := breaker.Call(ctx, b, broken); v != -1 || err != errBoom {
		t.Fatalf("Call on failure = %d, %v", v, err)
	}
	if v, err := breaker.Call(ctx, b, answer); v != 0 || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Call when open = %d, %v", v, err)
	}
	if v, err := breaker.CallWithFallback(ctx, b, answer, last); v != 41 || err != nil {
		t.Fatalf("CallWithFallback when open = %d, %v", v, err)
	}

	withFallback := mustNew(t, "f", breaker.WithConsecutiveFailures(1),
		breaker.WithFallback(func(context.Context, error) error { return errNotFound }))
	if v, err := breaker.Call(ctx, withFallback, broken); v != 0 || err != errNotFound {
		t.Fatalf("Call with the breaker's fallback = %d, %v; want 0 and the fallback's error", v, err)
	}
}

func TestDryRunNeverRejectsButReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMeter(t)
		logs := &logRecorder{}
		b, err := breaker.New("shadow", breaker.WithDryRun(true), breaker.WithConsecutiveFailures(2),
			breaker.WithMeterProvider(m), breaker.WithLogger(slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = b.Do(ctx, fail)
		_ = b.Do(ctx, fail)
		ran := 0
		for range 3 {
			if err := b.Do(ctx, func(context.Context) error { ran++; return nil }); err != nil {
				t.Fatalf("dry-run rejected: %v", err)
			}
		}
		if err := b.Do(ctx, fail); err != errBoom {
			t.Fatalf("dry-run call error %v, want its own", err)
		}
		if ran != 3 || b.State() != breaker.StateOpen {
			t.Fatalf("ran %d calls, state %v; want 3 and open", ran, b.State())
		}
		if got, want := m.calls(t, "shadow"), map[string]int64{"failure": 2, "rejected": 4}; !maps.Equal(got, want) {
			t.Fatalf("calls %v, want %v", got, want)
		}
		want := []string{"WARN breaker opened breaker=shadow from=closed to=open open_for=30s calls=2 failures=2 consecutive_failures=2 dry_run=true"}
		if got := logs.Lines(); !equal(got, want) {
			t.Fatalf("logs\n%q\nwant\n%q", got, want)
		}
		time.Sleep(30*time.Second + 1)
		for range 3 {
			_ = b.Do(ctx, succeed)
		}
		if st := b.State(); st != breaker.StateClosed {
			t.Fatalf("after the open time and 3 good probes: %v", st)
		}
	})
}

func TestStateChangesAreReportedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMeter(t)
		logs := &logRecorder{}
		var mu sync.Mutex
		var seen []string
		var b *breaker.Breaker
		b, err := breaker.New("t", breaker.WithMeterProvider(m), breaker.WithLogger(slog.New(logs)),
			breaker.WithHalfOpenProbes(1),
			breaker.WithOnStateChange(func(name string, from, to breaker.State) {
				_ = b.State() // callbacks run outside the breaker's locks
				mu.Lock()
				seen = append(seen, name+":"+from.String()+">"+to.String())
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for range 10 {
			_ = b.Do(ctx, fail)
		}
		time.Sleep(31 * time.Second)
		_ = b.Do(ctx, fail) // probe fails
		time.Sleep(31 * time.Second)
		_ = b.Do(ctx, succeed) // probe succeeds

		wantSeen := []string{"t:closed>open", "t:open>half_open", "t:half_open>open", "t:open>half_open", "t:half_open>closed"}
		if !equal(seen, wantSeen) {
			t.Fatalf("callbacks %v, want %v", seen, wantSeen)
		}
		wantLogs := []string{
			"WARN breaker opened breaker=t from=closed to=open open_for=30s calls=10 failures=10 consecutive_failures=10",
			"WARN breaker half-open breaker=t from=open to=half_open",
			"WARN breaker opened breaker=t from=half_open to=open open_for=30s",
			"WARN breaker half-open breaker=t from=open to=half_open",
			"WARN breaker closed breaker=t from=half_open to=closed",
		}
		if got := logs.Lines(); !equal(got, wantLogs) {
			t.Fatalf("logs\n%q\nwant\n%q", got, wantLogs)
		}
		if got, want := m.states(t, "t"), map[string]int64{"closed": 1, "open": 0, "half_open": 0}; !maps.Equal(got, want) {
			t.Fatalf("paved.breaker.state %v, want %v", got, want)
		}
	})
}

func TestRejectionAddsSpanEvent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	b := mustNew(t, "t", breaker.WithConsecutiveFailures(1))
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	_ = b.Do(ctx, fail)
	_ = b.Do(ctx, succeed)
	span.End()

	events := rec.Ended()[0].Events()
	if len(events) != 1 || events[0].Name != "breaker.rejected" {
		t.Fatalf("events %+v, want one breaker.rejected", events)
	}
	want := []attribute.KeyValue{
		attribute.String("paved.breaker.name", "t"),
		attribute.String("paved.breaker.state", "open"),
		attribute.Bool("paved.breaker.dry_run", false),
	}
	if got := events[0].Attributes; !equal(got, want) {
		t.Fatalf("attributes %v, want %v", got, want)
	}
}

// TestConcurrentCalls is for the race detector: every call is counted
// exactly once whatever the interleaving.
func TestConcurrentCalls(t *testing.T) {
	m := newMeter(t)
	b := mustNew(t, "t", breaker.WithMeterProvider(m), breaker.WithOpenDuration(time.Millisecond))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				fn := succeed
				if (g+i)%3 == 0 {
					fn = fail
				}
				_ = b.Do(context.Background(), fn)
				_ = b.Counts()
			}
		})
	}
	wg.Wait()
	var total int64
	for _, n := range m.calls(t, "t") {
		total += n
	}
	if total != 8*500 {
		t.Fatalf("counted %d calls, want %d", total, 8*500)
	}
}

// TestStateChangesSurviveAPanickingCallback: a failed probe makes two
// transitions in one call (open>half_open, half_open>open). If the
// callback panics on the first, the second must still be reported, by the
// next call, not dropped with the panic.
func TestStateChangesSurviveAPanickingCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []string
		b := mustNew(t, "t", breaker.WithConsecutiveFailures(1), breaker.WithHalfOpenProbes(1),
			breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
				seen = append(seen, from.String()+">"+to.String())
				if to == breaker.StateHalfOpen {
					panic("callback bug")
				}
			}))
		ctx := context.Background()
		_ = b.Do(ctx, fail)
		time.Sleep(30 * time.Second)
		func() {
			defer func() {
				if p := recover(); p != "callback bug" {
					t.Fatalf("recovered %v", p)
				}
			}()
			_ = b.Do(ctx, fail) // the probe fails
		}()
		if err := b.Do(ctx, succeed); openErr(t, err).State != breaker.StateOpen {
			t.Fatalf("after the failed probe: %v", err)
		}
		want := []string{"closed>open", "open>half_open", "half_open>open"}
		if !equal(seen, want) {
			t.Fatalf("callbacks %v, want %v", seen, want)
		}
	})
}
