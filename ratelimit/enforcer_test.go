package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
)

func TestNewEnforcerRejects(t *testing.T) {
	k := keyed(t, 1, 1)
	tests := []struct {
		name   string
		policy string
		lim    ratelimit.Decider
		opts   []ratelimit.Option
	}{
		{"nil limiter", "p", nil, nil},
		{"nil *Keyed", "p", (*ratelimit.Keyed)(nil), nil},
		{"nil *Limiter", "p", (*ratelimit.Limiter)(nil), nil},
		{"nil option", "p", k, []ratelimit.Option{nil}},
		{"empty name", "", k, nil},
		{"name not printable ASCII", "a\tb", k, nil},
		{"middleware-only option", "p", k, []ratelimit.Option{ratelimit.WithHeaders(false)}},
		{"limiter option", "p", k, []ratelimit.Option{ratelimit.WithMaxKeys(1)}},
		{"empty anonymous key", "p", k, []ratelimit.Option{ratelimit.WithAnonymousKey("")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := ratelimit.NewEnforcer(tc.policy, tc.lim, tc.opts...); err == nil {
				t.Fatalf("NewEnforcer = %v, want an error", e)
			}
		})
	}
}

// TestEnforcerAllowAgreesWithCheck runs the same calls through Allow and
// Check on twin limiters: Allow, which skips the allowed Decision, must
// reach every verdict Check reaches.
func TestEnforcerAllowAgreesWithCheck(t *testing.T) {
	tests := []struct {
		name string
		lim  func() ratelimit.Decider
		keys []string
		opts []ratelimit.Option
	}{
		{"one bucket", func() ratelimit.Decider { return mustNew(t, rate.Every(time.Hour), 2) }, []string{"a", "b", "c"}, nil},
		{"per key", func() ratelimit.Decider { return keyed(t, rate.Every(time.Hour), 1) }, []string{"a", "a", "b", "", "b"}, nil},
		{"anonymous", func() ratelimit.Decider { return keyed(t, rate.Every(time.Hour), 1) }, []string{"", "", "a"}, []ratelimit.Option{ratelimit.WithAnonymousKey("anon")}},
		{"dry run", func() ratelimit.Decider { return keyed(t, rate.Every(time.Hour), 1) }, []string{"a", "a", ""}, []ratelimit.Option{ratelimit.WithDryRun(true)}},
		{"failing limiter", func() ratelimit.Decider { return failing{} }, []string{"a", "a"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check, err := ratelimit.NewEnforcer("p", tc.lim(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			allow, _ := ratelimit.NewEnforcer("p", tc.lim(), tc.opts...)
			ctx := context.Background()
			for i, key := range tc.keys {
				_, want := check.Check(ctx, "op", key)
				got := allow.Allow(ctx, "op", key)
				var wantLE, gotLE *ratelimit.LimitError
				if errors.As(want, &wantLE) != errors.As(got, &gotLE) || !errors.Is(got, ratelimit.ErrNoKey) != !errors.Is(want, ratelimit.ErrNoKey) ||
					(wantLE != nil && (wantLE.Policy != gotLE.Policy || gotLE.RetryAfter < wantLE.RetryAfter-time.Second)) {
					t.Fatalf("call %d (key %q): Allow = %v, Check = %v", i, key, got, want)
				}
			}
		})
	}
}
