package measures

import (
	"testing"
	"time"
)

// TestSupplyEnds (pharmacist review M1): the first day the fills no longer cover, past the end of
// the year, as PDCToDate reports it for the refill date.
func TestSupplyEnds(t *testing.T) {
	at := Date(2026, time.December, 2) // fills through December 1 count
	cases := []struct {
		name   string
		p      *Patient
		want   Day
		onHand int
	}{
		// Dec 1 x90: Dec 1 + 90 = 2027-03-01 (Dec 1-Feb 28 supplied). The measure's on-hand stops
		// at Dec 31: Dec 2-31 = 30 days.
		{"90 days on December 1", adult(fill(time.January, 5, 30, "atorvastatin"), fill(time.December, 1, 90, "atorvastatin")), Date(2027, time.March, 1), 30},
		// Nov 20 x30 runs to Dec 19; Dec 1 x30 of the same drug is shifted to Dec 20, runs to Jan 18:
		// first day without supply 2027-01-19.
		{"early refill shifted past the year end", adult(fill(time.November, 20, 30, "atorvastatin"), fill(time.December, 1, 30, "atorvastatin")), Date(2027, time.January, 19), 30},
		// Same drug, same day, 30 and 90: the 90 only (Dec 1 + 90).
		{"same day, longest kept", adult(fill(time.December, 1, 30, "rosuvastatin"), fill(time.December, 1, 90, "rosuvastatin")), Date(2027, time.March, 1), 30},
		// Two drugs of the class: the later run-out.
		{"two ingredients", adult(fill(time.December, 1, 30, "rosuvastatin"), fill(time.November, 15, 60, "atorvastatin")), Date(2027, time.January, 14), 30},
	}
	for _, c := range cases {
		td := PDCToDate(c.p, 2026, PDCStatin, at)
		if td.SupplyEnds != c.want || td.OnHand != c.onHand {
			t.Errorf("%s: SupplyEnds %s on hand %d, want %s and %d", c.name, td.SupplyEnds, td.OnHand, c.want, c.onHand)
		}
	}
}

// FuzzClassify: any coding and text classify without panicking; a concept with a match is known;
// NormalizeNDC gives 11 digits or nothing.
func FuzzClassify(f *testing.F) {
	f.Add(SystemNDC, "0071-0156-23", "LIPITOR 40MG TAB", "Insulin Syringe 1 mL")
	f.Add(SystemRxNorm, "859753", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]", "Actoplus Met")
	f.Fuzz(func(t *testing.T, system, code, display, text string) {
		vs := DefaultValueSet()
		idx, known := vs.Classify(nil, []Coding{{system, code, display}}, text)
		if len(idx) > 0 && !known {
			t.Fatalf("matched %v but not known", idx)
		}
		for _, i := range idx {
			if i < 0 || i >= vs.Len() {
				t.Fatalf("index %d", i)
			}
		}
		if n, ok := NormalizeNDC(code); ok && len(n) != 11 {
			t.Fatalf("NormalizeNDC(%q) = %q", code, n)
		}
	})
}
