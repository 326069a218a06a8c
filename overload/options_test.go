package overload_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/overload"
)

func TestNewLimiterErrors(t *testing.T) {
	tests := []struct {
		name string
		lim  string
		opts []overload.Option
		want string
	}{
		{"empty name", "", nil, "empty name"},
		{"nil option", "l", []overload.Option{nil}, "option 0 to NewLimiter is nil"},
		{"bad algorithm", "l", []overload.Option{overload.WithAlgorithm(9)}, "unknown algorithm"},
		{"min above max", "l", []overload.Option{overload.WithLimits(10, 5)}, "WithLimits"},
		{"zero min", "l", []overload.Option{overload.WithLimits(0, 5)}, "WithLimits"},
		{"initial", "l", []overload.Option{overload.WithInitialLimit(0)}, "WithInitialLimit"},
		{"tolerance below 1", "l", []overload.Option{overload.WithTolerance(0.9)}, "WithTolerance"},
		{"window", "l", []overload.Option{overload.WithWindow(0)}, "WithWindow"},
		{"interval", "l", []overload.Option{overload.WithMinRTTInterval(-time.Second)}, "WithMinRTTInterval"},
		{"shares order", "l", []overload.Option{overload.WithClassShares(0.9, 0.8)}, "WithClassShares"},
		{"shares zero", "l", []overload.Option{overload.WithClassShares(0, 0.8)}, "WithClassShares"},
		{"header", "l", []overload.Option{overload.WithClassHeader("")}, "WithClassHeader"},
		{"route", "l", []overload.Option{overload.WithRouteClass("GET instances", overload.Critical)}, "invalid pattern"},
		{"classifier", "l", []overload.Option{overload.WithClassifier(nil)}, "WithClassifier"},
		{"two errors", "l", []overload.Option{overload.WithWindow(0), overload.WithQueue(-1)}, "WithQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := overload.NewLimiter(tt.lim, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "overload: ") {
				t.Errorf("NewLimiter error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestOptionForAnotherConstructor(t *testing.T) {
	_, err := overload.NewBulkhead("b", 1, overload.WithAlgorithm(overload.AIMD))
	if err == nil || err.Error() != "overload: WithAlgorithm does not apply to NewBulkhead" {
		t.Errorf("NewBulkhead(WithAlgorithm) error = %v", err)
	}
	_, err = overload.NewBulkhead("b", 1, overload.WithClassHeader("X-Priority"))
	if err == nil || !strings.Contains(err.Error(), "does not apply") {
		t.Errorf("NewBulkhead(WithClassHeader) error = %v", err)
	}
}

func TestParseClass(t *testing.T) {
	tests := []struct {
		in   string
		want overload.Class
		ok   bool
	}{
		{"critical", overload.Critical, true},
		{"CRITICAL", overload.Critical, true},
		{"default", overload.Default, true},
		{"Sheddable", overload.Sheddable, true},
		{"", overload.Default, false},
		{"high", overload.Default, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := overload.ParseClass(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseClass(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok && got.String() != strings.ToLower(tt.in) {
				t.Errorf("String() = %q", got.String())
			}
		})
	}
}

func FuzzParseClass(f *testing.F) {
	for _, s := range []string{"critical", "Default", "sheddable", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := overload.ParseClass(s)
		if ok != strings.EqualFold(c.String(), s) {
			t.Errorf("ParseClass(%q) = %v, %v", s, c, ok)
		}
		if !ok && c != overload.Default {
			t.Errorf("ParseClass(%q) = %v for an unknown name", s, c)
		}
	})
}
