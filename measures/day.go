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
func ParseDay(s string) (Day, error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return NoDay, fmt.Errorf("measures: date %q is not YYYY-MM-DD", clip(s))
	}
	t, err := time.Parse(time.DateOnly, s[:10])
	if err != nil {
		return NoDay, fmt.Errorf("measures: date %q: not a calendar date", clip(s))
	}
	return Day(t.Unix() / 86400), nil
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
	return d.Time().Format(time.DateOnly)
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
