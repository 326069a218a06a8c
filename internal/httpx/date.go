package httpx

import "time"

// ParseHTTPDateAt parses an HTTP-date (RFC 9110 section 5.6.7) strictly:
// exactly one of its three forms, with nothing around it,
//
//	Sun, 06 Nov 1994 08:49:37 GMT    IMF-fixdate
//	Sunday, 06-Nov-94 08:49:37 GMT   obsolete RFC 850 form
//	Sun Nov  6 08:49:37 1994         obsolete asctime form
//
// with case-sensitive day and month names, two-digit fields where the
// grammar has them, single spaces, "GMT", and a date and time that exist
// (no 31 Nov, no hour 24; second 60 is read as the next minute's first).
// The day name must be one of the seven but is not checked against the
// date, as the grammar does not tie them. A two-digit year that would be
// more than 50 years after now is read in the previous century, as RFC
// 9110 asks. Anything else, including "0", dates with one-digit hours,
// doubled spaces, other zones and two field lines joined with a comma,
// is not an HTTP-date: ok is false, which a cache reads as "already
// expired" (RFC 9111 section 5.3) and a client as "no date".
//
// It replaces http.ParseTime, which accepts more than the grammar (it is
// time.Parse with the three layouts), so that every paved package reads
// dates the same way. now is the time of the message, for the two-digit
// year of the RFC 850 form; callers pass the time they already read.
func ParseHTTPDateAt(s string, now time.Time) (t time.Time, ok bool) {
	switch {
	case len(s) == 29 && s[3] == ',':
		return parseIMF(s)
	case len(s) == 24 && s[3] == ' ':
		return parseASCTime(s)
	case len(s) >= 30:
		return parseRFC850(s, now)
	}
	return time.Time{}, false
}

var shortDays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
var longDays = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes).
func parseIMF(s string) (time.Time, bool) {
	if !isShortDay(s[:3]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(s[5:7])
	month := monthOf(s[8:11])
	year, ok2 := digits(s[12:16])
	if !ok1 || !ok2 || month == 0 {
		return time.Time{}, false
	}
	return build(year, month, day, s[17:25])
}

// parseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT".
func parseRFC850(s string, now time.Time) (time.Time, bool) {
	comma := -1
	for i := 6; i <= 9 && i < len(s); i++ {
		if s[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 || !isLongDay(s[:comma]) {
		return time.Time{}, false
	}
	r := s[comma+1:] // " 06-Nov-94 08:49:37 GMT", 23 bytes
	if len(r) != 23 || r[0] != ' ' || r[3] != '-' || r[7] != '-' || r[10] != ' ' || r[19:] != " GMT" {
		return time.Time{}, false
	}
	day, ok1 := digits(r[1:3])
	month := monthOf(r[4:7])
	yy, ok2 := digits(r[8:10])
	if !ok1 || !ok2 || month == 0 {
		return time.Time{}, false
	}
	// RFC 9110 section 5.6.7: a two-digit year more than 50 years in the
	// future is the most recent past year with those digits.
	century := now.UTC().Year() / 100 * 100
	year := century + yy
	if year > now.UTC().Year()+50 {
		year -= 100
	}
	return build(year, month, day, r[11:19])
}

// parseASCTime parses "Sun Nov  6 08:49:37 1994" (24 bytes); the day of
// the month is two digits or a space and one digit.
func parseASCTime(s string) (time.Time, bool) {
	if !isShortDay(s[:3]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
		return time.Time{}, false
	}
	month := monthOf(s[4:7])
	var day int
	var ok1 bool
	if s[8] == ' ' {
		day, ok1 = digits(s[9:10])
	} else {
		day, ok1 = digits(s[8:10])
	}
	year, ok2 := digits(s[20:24])
	if !ok1 || !ok2 || month == 0 {
		return time.Time{}, false
	}
	return build(year, month, day, s[11:19])
}

// build checks "HH:MM:SS" and the date and returns the time in UTC.
func build(year int, month time.Month, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(hms[0:2])
	minute, ok2 := digits(hms[3:5])
	sec, ok3 := digits(hms[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, sec, 0, time.UTC), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isShortDay(s string) bool {
	for _, d := range shortDays {
		if s == d {
			return true
		}
	}
	return false
}

func isLongDay(s string) bool {
	for _, d := range longDays {
		if s == d {
			return true
		}
	}
	return false
}

func monthOf(s string) time.Month {
	for i, m := range months {
		if s == m {
			return time.Month(i + 1)
		}
	}
	return 0
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
