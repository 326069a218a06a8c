package httpx_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paved-go/paved/internal/httpx"
)

var dateNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time // zero: invalid
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want},
		{"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", want},
		{"asctime", "Sun Nov  6 08:49:37 1994", want},
		{"asctime two-digit day", "Sun Nov 16 08:49:37 1994", want.AddDate(0, 0, 10)},
		{"RFC 850 year more than 50 years ahead is last century", "Wednesday, 01-Jan-80 00:00:00 GMT", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"RFC 850 2070", "Tuesday, 01-Jan-70 00:00:00 GMT", time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"leap second", "Wed, 31 Dec 2025 23:59:60 GMT", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"29 Feb in a leap year", "Thu, 29 Feb 2024 00:00:00 GMT", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"zero", "0", time.Time{}},
		{"empty", "", time.Time{}},
		{"one-digit hour", "Sun, 06 Nov 1994 8:49:37 GMT", time.Time{}},
		{"time only", "2:01:18", time.Time{}},
		{"doubled space", "Sun,  06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"two lines joined", "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"leading space", " Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", time.Time{}},
		{"UTC zone", "Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}},
		{"lowercase month", "Sun, 06 nov 1994 08:49:37 GMT", time.Time{}},
		{"lowercase day", "sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"one-digit day in IMF", "Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"31 Nov", "Sun, 31 Nov 1994 08:49:37 GMT", time.Time{}},
		{"29 Feb in a common year", "Sun, 29 Feb 2025 00:00:00 GMT", time.Time{}},
		{"hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}},
		{"minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", time.Time{}},
		{"day 00", "Sun, 00 Nov 1994 08:49:37 GMT", time.Time{}},
		{"sign in a number", "Sun, +6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"RFC 850 short day name", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}},
		{"RFC 850 four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT", time.Time{}},
		{"asctime zero-padded day", "Sun Nov 06 08:49:37 1994", want},
		{"asctime with GMT", "Sun Nov  6 08:49:37 1994 GMT", time.Time{}},
		{"RFC 3339", "1994-11-06T08:49:37Z", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := httpx.ParseHTTPDateAt(tc.in, dateNow)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Fatalf("ParseHTTPDateAt(%q) = %v, %v; want %v", tc.in, got, ok, tc.want)
			}
		})
	}
}

func TestParseHTTPDateAtNow(t *testing.T) {
	got, ok := httpx.ParseHTTPDateAt(time.Unix(1e9, 0).UTC().Format(http.TimeFormat), time.Now())
	if !ok || got.Unix() != 1e9 {
		t.Fatalf("got %v, %v", got, ok)
	}
}

// FuzzParseHTTPDate checks that the parser never panics, that whatever it
// accepts is UTC and has the exact length of one of the three forms, and
// that an accepted IMF-fixdate prints back as itself.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"0", "2:01:18", "Sun,  06 Nov 1994 08:49:37 GMT", "Wed, 31 Dec 2025 23:59:60 GMT", "Wednesday, 06-Nov-94 08:49:37 GMT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := httpx.ParseHTTPDateAt(s, dateNow)
		if !ok {
			if !got.IsZero() {
				t.Fatalf("rejected %q but returned %v", s, got)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q parsed in %v", s, got.Location())
		}
		if strings.TrimSpace(s) != s {
			t.Fatalf("accepted surrounding space in %q", s)
		}
		switch {
		case len(s) == 29 && s[3] == ',':
			if s[23:25] != "60" && got.Format(http.TimeFormat)[5:] != s[5:] {
				t.Fatalf("%q read as %v", s, got)
			}
		case len(s) == 24, len(s) >= 30 && len(s) <= 33:
		default:
			t.Fatalf("accepted %q, which has no HTTP-date length", s)
		}
	})
}
