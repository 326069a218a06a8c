package status_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/overload"
	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/retry"
)

// failingSink is an audit sink whose writes fail.
type failingSink struct{}

func (failingSink) Name() string                                { return "down" }
func (failingSink) Write(context.Context, []*audit.Event) error { return errors.New("disk gone") }
func (failingSink) Close(context.Context) error                 { return nil }

var runs atomic.Int64

// rowOf returns the first row of kind and name, or fails the test.
func rowOf(t *testing.T, d doc, kind, name string) row {
	t.Helper()
	for _, c := range d.Components {
		if c.Kind == kind && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s row named %q in status.json", kind, name)
	return row{}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		keep(t, v)
		return v
	}
}

// TestStatusJSONShowsEveryPackage drives a component of each package into
// a known state and reads it back from status.json, as an operator would.
func TestStatusJSONShowsEveryPackage(t *testing.T) {
	ctx := context.Background()
	discard := slog.New(slog.DiscardHandler)
	h := newHandler(t)
	// Names of this run only: with -count, earlier runs' components may
	// not be collected yet.
	run := strconv.FormatInt(runs.Add(1), 10)
	name := func(s string) string { return "pkg-" + s + "-" + run }

	// A rate-limit policy that has refused one call.
	lim := must[*ratelimit.Keyed](t)(ratelimit.NewKeyed(rate.Every(time.Hour), 1))
	enf := must[*ratelimit.Enforcer](t)(ratelimit.NewEnforcer(name("api"), lim, ratelimit.WithLogger(discard)))
	if err := enf.Allow(ctx, "op", "k"); err != nil {
		t.Fatal(err)
	}
	if err := enf.Allow(ctx, "op", "k"); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("second call: %v, want limited", err)
	}

	// A cache with one miss and one hit.
	c := must[*cache.Cache[string, string]](t)(cache.New[string, string](name("cache")))
	t.Cleanup(func() { c.Close() })
	load := func(context.Context, string) (string, error) { return "v", nil }
	for range 2 {
		if _, err := c.Get(ctx, "a", load); err != nil {
			t.Fatal(err)
		}
	}

	// A retrier with its budget untouched.
	must[*retry.Retrier](t)(retry.New(name("retry")))

	// A full bulkhead that has shed one call.
	bh := must[*overload.Bulkhead](t)(overload.NewBulkhead(name("pool"), 1, overload.WithLogger(discard)))
	release, err := bh.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := bh.Acquire(ctx); err == nil {
		t.Fatal("a second call got into a bulkhead of 1")
	}

	// An idempotency guard that refused a key reused for another body.
	g := must[*idempotency.Guard](t)(idempotency.New(name("orders"), idempotency.WithLogger(discard)))
	orders := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	for i, body := range []string{`{"n":1}`, `{"n":2}`} {
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
		r.Header.Set("Idempotency-Key", `"k1"`)
		w := httptest.NewRecorder()
		orders.ServeHTTP(w, r)
		if want := []int{201, 422}[i]; w.Code != want {
			t.Fatalf("order %d: %d, want %d", i, w.Code, want)
		}
	}

	// A fault injector with a rule on.
	inj := must[*faults.Injector](t)(faults.New(name("faults"), faults.WithLogger(discard)))
	if err := inj.Set(faults.Rule{Name: "drill", Percent: 50, Status: 503}); err != nil {
		t.Fatal(err)
	}

	// An audit emitter whose only sink fails.
	em := must[*audit.Emitter](t)(audit.New(name("trail"), audit.WithSink(failingSink{}), audit.WithLogger(discard)))
	t.Cleanup(func() { em.Close(context.Background()) })
	em.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))

	d := getDoc(t, h, "/admin/status.json")
	checks := []struct {
		kind, name, state, stat string
		want                    float64
	}{
		{"ratelimit", name("api"), "limiting", "rejected", 1},
		{"cache", name("cache"), "ok", "hits", 1},
		{"cache", name("cache"), "ok", "misses", 1},
		{"retry", name("retry"), "ok", "available", -1}, // some retries available
		{"overload", name("pool"), "shedding", "in_flight", 1},
		{"idempotency", name("orders"), "ok", "mismatches", 1},
		{"faults", name("faults"), "active", "", 0},
	}
	for _, tc := range checks {
		r := rowOf(t, d, tc.kind, tc.name)
		if r.State != tc.state {
			t.Errorf("%s %s: state %q, want %q (%+v)", tc.kind, tc.name, r.State, tc.state, r)
		}
		if tc.stat == "" {
			continue
		}
		got, ok := r.Stats[tc.stat].(float64)
		switch {
		case !ok:
			t.Errorf("%s %s: no stat %q in %v", tc.kind, tc.name, tc.stat, r.Stats)
		case tc.want < 0 && got <= 0, tc.want >= 0 && got != tc.want:
			t.Errorf("%s %s: %s = %v, want %v", tc.kind, tc.name, tc.stat, got, tc.want)
		}
	}

	// The emitter's worker writes in the background: its row turns bad
	// once the write failed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := rowOf(t, getDoc(t, h, "/admin/status.json"), "audit", name("trail"))
		if r.State == "failing" && r.Health == "bad" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit row %+v, want failing and bad after the sink's write failed", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
