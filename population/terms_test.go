package population

import (
	"context"
	"strings"
	"testing"
	"time"

	"valuerx/measures"
	"valuerx/measures/synth"
)

func TestShortOfTarget(t *testing.T) {
	for _, c := range []struct {
		target        float64
		den, num, out int
	}{
		{0.85, 200, 160, 10}, // ceil(170) - 160
		{0.85, 201, 160, 11}, // ceil(170.85) = 171
		{0.80, 100, 80, 0},   // exactly at target
		{0.80, 100, 95, 0},   // above
		{0.9, 0, 0, 0},       // no denominator
	} {
		if got := ShortOfTarget(c.target, c.den, c.num); got != c.out {
			t.Errorf("ShortOfTarget(%v, %d, %d) = %d, want %d", c.target, c.den, c.num, got, c.out)
		}
	}
}

func TestParseTerms(t *testing.T) {
	good := "contracts:\n  - contract: H1001\n    measures:\n      PDC-STA: {target: 0.85, bonusPerAdherent: 25, bonusPerGapClosed: 40, starWeight: 1}\n"
	if _, err := ParseTerms([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"contracts:\n  - contract: H1\n    measures:\n      PDC-XX: {target: 0.8}\n",
		"contracts:\n  - contract: H1\n    measures:\n      SUPD: {target: 1.5}\n",
		"contracts:\n  - contract: H1\n    measures:\n      SUPD: {bonus: 3}\n",
		"contracts:\n  - contract: H1\n  - contract: H1\n",
		"contracts: []\n---\ncontracts: []\n",
	} {
		if _, err := ParseTerms([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// With terms, the rates carry the target and the shortfall, and the worklist puts the dollars
// first: H2002's statin gaps pay 65 per patient, so they lead.
func TestRunWithTerms(t *testing.T) {
	f, _ := population(t, synth.Config{Year: 2026, Patients: 1500, Seed: 21, Through: measures.Date(2026, time.September, 30)})
	terms, err := ParseTerms([]byte("contracts:\n  - contract: H2002\n    measures:\n      PDC-STA: {target: 0.9, bonusPerAdherent: 25, bonusPerGapClosed: 40}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), f.inputs(), Options{Year: 2026, Workers: 2, Terms: terms})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tl := range rep.Tallies {
		if tl.Contract == "H2002" && tl.Measure == measures.PDCStatin {
			found = true
			if !tl.HasTarget || tl.ShortOfTarget != ShortOfTarget(0.9, tl.Denominator, tl.Numerator) || tl.ShortOfTarget == 0 {
				t.Errorf("H2002 statin tally %+v", tl)
			}
		} else if tl.HasTarget {
			t.Errorf("%s %s has a target without terms", tl.Contract, tl.Measure)
		}
	}
	if !found || len(rep.Worklist) == 0 {
		t.Fatal("no H2002 statin tally or empty worklist")
	}
	first := rep.Worklist[0]
	if first.Contract != "H2002" || first.Measure != measures.PDCStatin || first.ValueUSD != 65 {
		t.Errorf("first row %+v, want an H2002 statin gap worth 65", first)
	}
	var rates strings.Builder
	rep.WriteRatesCSV(&rates)
	if !strings.Contains(rates.String(), ",0.9,") {
		t.Errorf("rates.csv has no target:\n%s", rates.String())
	}
}
