package measures

import (
	"fmt"
	"time"
)

// Day is a calendar date as days since 1970-01-01 (day 0). Measures count days, and a small
// integer keeps a year of fills for a million patients compact.
type Day int32

// NoDay marks an absent date (no death, no disenrollment, unknown birth date).
const NoDay Day = -1 << 31

// Date returns the Day of a calendar date. Out-of-range months and days normalise as time.Date
// does; callers parsing input use ParseDay, which rejects them.
func Date(year int, month time.Month, day int) Day {
	return Day(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDay reads a FHIR date or dateTime ("2026-03-01", "2026-03-01T10:00:00Z") and returns the
// calendar day it names: for a dateTime, the date as written, without converting time zones (a
// dispense handed over at 23:30 local time was handed over on that local date).
func ParseDay(s string) (Day, error) { return parseDay(s) }

// ParseDayBytes is ParseDay of a byte slice (the population run reads dates out of its line
// buffers without making strings of them).
func ParseDayBytes(b []byte) (Day, error) { return parseDay(b) }

func parseDay[T string | []byte](s T) (Day, error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || (len(s) > 10 && s[10] != 'T') {
		return NoDay, fmt.Errorf("measures: date %q is not YYYY-MM-DD", clip(string(s)))
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return NoDay, fmt.Errorf("measures: date %q: not a calendar date", clip(string(s)))
	}
	return civil(y, m, d), nil
}

func digits[T string | []byte](s T) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civil is days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's
// days_from_civil): a hot path when reading millions of dispenses, where time.Parse was a
// measurable share.
func civil(y, m, d int) Day {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here: four digits
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return Day(era*146097 + doe - 719468)
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Time returns the day as midnight UTC.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is the date as YYYY-MM-DD, or "" for NoDay.
func (d Day) String() string {
	if d == NoDay {
		return ""
	}
	var b [10]byte
	return string(d.AppendFormat(b[:0]))
}

// AppendFormat appends the date as YYYY-MM-DD (years 0-9999; NoDay appends nothing).
func (d Day) AppendFormat(b []byte) []byte {
	if d == NoDay {
		return b
	}
	y, m, dd := d.ymd()
	if y < 0 || y > 9999 {
		return d.Time().AppendFormat(b, time.DateOnly)
	}
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+dd/10), byte('0'+dd%10))
}

// ymd is H. Hinnant's civil_from_days.
func (d Day) ymd() (y, m, day int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, day
}

// YearStart and YearEnd are the first and last days of a calendar year.
func YearStart(year int) Day { return Date(year, time.January, 1) }
func YearEnd(year int) Day   { return Date(year, time.December, 31) }

// AgeOn is the age in whole years on day d of someone born on birth.
func AgeOn(birth, d Day) int {
	b, t := birth.Time(), d.Time()
	age := t.Year() - b.Year()
	if t.Month() < b.Month() || (t.Month() == b.Month() && t.Day() < b.Day()) {
		age--
	}
	return age
}
