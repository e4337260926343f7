package tracking

import (
	"testing"
	"time"
)

// The note on the basis of the payer savings: set when the period may hold orders first seen up
// to the last decision booked on the allowed amount, and only then.
func TestPayerBasisNote(t *testing.T) {
	until := time.Date(2026, 12, 3, 14, 12, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name        string
		from, until time.Time
		want        bool
	}{
		{"no decision on the allowed amount", time.Time{}, time.Time{}, false},
		{"open period", time.Time{}, until, true},
		{"the period starts before", day(1), until, true},
		{"the period starts that day, before it", day(3), until, true},
		{"the period starts at it", until, until, true},
		{"the period starts after", day(4), until, false},
	} {
		got := PayerBasisNote(c.from, c.until)
		if (got != nil) != c.want || (got != nil && !got.Equal(until)) {
			t.Errorf("%s: %v, want a note: %v", c.name, got, c.want)
		}
	}
}
