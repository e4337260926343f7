package scoring

import (
	"math"
	"strconv"
	"strings"
)

// FormatUSD renders an amount for display: rounded to cents, thousands
// separated, a leading minus for losses ("-1,234.57"), no currency sign so
// callers can choose "$" or "USD".
func FormatUSD(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	c := math.Round(v * 100)
	neg := c < 0
	c = math.Abs(c) // also turns a rounded -0 into 0

	s := strconv.FormatFloat(c/100, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	b.WriteByte('.')
	b.WriteString(frac)
	return b.String()
}

// FormatSignedUSD is FormatUSD with an explicit "+" on gains, for deltas.
func FormatSignedUSD(v float64) string {
	s := FormatUSD(v)
	if s != "n/a" && !strings.HasPrefix(s, "-") && s != "0.00" {
		return "+" + s
	}
	return s
}
