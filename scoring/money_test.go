package scoring

import (
	"math"
	"testing"
)

func TestFormatUSD(t *testing.T) {
	for _, c := range []struct {
		v            float64
		want, signed string
	}{
		{0, "0.00", "0.00"},
		{3306.735, "3,306.74", "+3,306.74"},
		{-601.575713, "-601.58", "-601.58"},
		{0.004, "0.00", "0.00"},
		{-0.004, "0.00", "0.00"}, // no negative zero
		{999.995, "1,000.00", "+1,000.00"},
		{1234567.891, "1,234,567.89", "+1,234,567.89"},
		{100, "100.00", "+100.00"},
		{math.NaN(), "n/a", "n/a"},
		{math.Inf(1), "n/a", "n/a"},
	} {
		if got := FormatUSD(c.v); got != c.want {
			t.Errorf("FormatUSD(%v) = %q, want %q", c.v, got, c.want)
		}
		if got := FormatSignedUSD(c.v); got != c.signed {
			t.Errorf("FormatSignedUSD(%v) = %q, want %q", c.v, got, c.signed)
		}
	}
}
