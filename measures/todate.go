package measures

import (
	"slices"
	"strings"
)

// ToDate is a PDC measure as it stands on a date during the measurement year: what the fills so
// far say, and what the rest of the year can still change.
type ToDate struct {
	Measure Measure
	At      Day // the date asked about; fills dated on or after it are not counted
	Index   Day // first fill of the class in the year (NoDay: none before At)
	End     Day // last day of the treatment period

	// Days and Covered: the days from Index to the day before At (stays removed), and how many of
	// them were covered. PDC to date = Covered/Days.
	Days, Covered int

	// Total is the days of the whole treatment period (stays known so far removed); Needed the days
	// it must have covered for 80 %; Remaining the days from At to End.
	Total, Needed, Remaining int

	// GapDaysLeft: how many more days without medication the patient can afford this year and
	// still reach 80 % (negative: already out of reach). Redeemable: GapDaysLeft >= 0, that is,
	// fully adherent from At on the patient still reaches 80 % by End.
	GapDaysLeft int
	Redeemable  bool

	// OnHand: days of supply dispensed before At that cover days from At on (the refill is due
	// At+OnHand). Counted to End only, as the measure counts them.
	OnHand int
	// SupplyEnds: the first day the fills before At no longer cover, not cut at End (a 90-day
	// fill on December 1 runs to February 28: SupplyEnds is March 1), inpatient stays left out;
	// NoDay without fills. For telling the prescriber when the refill is due.
	SupplyEnds Day

	// Status of the denominator so far: two fills on different dates before At, and the
	// exclusions visible so far. A patient not (yet) in the denominator still has a PDC to date.
	InDenominator bool
	Excluded      bool
	Reason        string
	Ineligible    bool // Result.Ineligible, from the fills before At
}

// RefillDue is the first day the fills before At no longer cover: At + OnHand, or SupplyEnds when
// the supply runs past the end of the treatment period, where OnHand stops counting (a 90-day fill
// on 1 December is due on 1 March, not 1 January; on 31 December OnHand is 0).
func (t ToDate) RefillDue() Day {
	due := t.At + Day(t.OnHand)
	if t.OnHand == t.Remaining && t.SupplyEnds != NoDay && t.SupplyEnds > due {
		return t.SupplyEnds
	}
	return due
}

// PDC is the PDC to date, 0 when no days have passed since the first fill.
func (t ToDate) PDC() float64 {
	if t.Days == 0 {
		return 0
	}
	return float64(t.Covered) / float64(t.Days)
}

// PDCToDate computes a PDC measure of the measurement year as of day at: the days covered from
// the first fill of the year to the day before at, over the days in that interval; and whether
// the patient can still reach 80 % by the end of the treatment period if fully adherent from at.
// Only fills dated before at are read. The measure must be one of Adherence.
func PDCToDate(p *Patient, year int, m Measure, at Day) ToDate {
	jan1 := YearStart(year)
	end := treatmentEnd(p, year)
	t := ToDate{Measure: m, At: at, Index: NoDay, End: end}
	if m.Class() == ClassNone {
		t.Reason = "not an adherence measure"
		return t
	}
	if at > end+1 {
		at = end + 1 // after the treatment period: the year's answer
	}
	if at <= jan1 {
		t.Reason = "no fills of the class in the measurement year"
		return t
	}
	var c coverage
	r, _ := adherence(p, year, m, jan1, end, at, nil, &c)
	t.InDenominator, t.Excluded, t.Reason, t.Ineligible = r.InDenominator, r.Excluded, r.Reason, r.Ineligible
	if r.Index == NoDay {
		return t
	}
	t.Index = r.Index
	lo, hi, a := int(r.Index-jan1), int(end-jan1), int(at-jan1)
	t.Covered, t.Days = c.countIn(lo, a-1)
	onHand, remaining := c.countIn(a, hi)
	t.OnHand, t.Remaining = onHand, remaining
	t.Total = t.Days + t.Remaining
	t.Needed = (t.Total*thresholdNum + thresholdDen - 1) / thresholdDen // ceil(0.8 x Total)
	// Allowed uncovered days in the year, minus those already missed.
	t.GapDaysLeft = (t.Total - t.Needed) - (t.Days - t.Covered)
	t.Redeemable = t.GapDaysLeft >= 0
	t.SupplyEnds = supplyEnd(p, m.Class(), jan1, at)
	return t
}

// SupplyEndOf is ToDate.SupplyEnds for the fills of the named ingredients of class alone (the
// drug ordered, where the measure counts the whole class: an all-class measure's supply may be
// another drug's while the patient has run out of the one ordered). NoDay without such fills.
func SupplyEndOf(p *Patient, year int, class Class, ingredients []string, at Day) Day {
	return supplyEndIf(p, YearStart(year), at, func(f Fill) bool { return f.Class == class && slices.Contains(ingredients, f.Ingredient) })
}

// supplyEnd is the first day not supplied by the fills of the class dated in [jan1, at): each
// ingredient's supply line as coverage.run shifts it (an overlap starts when the earlier supply
// runs out; same-date fills of one ingredient count once, the longest), without the cut at the
// end of the treatment period.
func supplyEnd(p *Patient, class Class, jan1, at Day) Day {
	return supplyEndIf(p, jan1, at, func(f Fill) bool { return f.Class == class })
}

// supplyEndIf is supplyEnd over the fills keep accepts.
func supplyEndIf(p *Patient, jan1, at Day, keep func(Fill) bool) Day {
	var fills []Fill
	for _, f := range p.Fills {
		if keep(f) && f.Date >= jan1 && f.Date < at && f.DaysSupply > 0 {
			fills = append(fills, f)
		}
	}
	slices.SortFunc(fills, func(a, b Fill) int {
		if a.Ingredient != b.Ingredient {
			return strings.Compare(a.Ingredient, b.Ingredient)
		}
		if a.Date != b.Date {
			return int(a.Date - b.Date)
		}
		return b.DaysSupply - a.DaysSupply
	})
	end, next := NoDay, Day(0)
	for i, f := range fills {
		start := f.Date
		if i > 0 && fills[i-1].Ingredient == f.Ingredient {
			if fills[i-1].Date == f.Date {
				continue
			}
			start = max(start, next)
		}
		next = start + Day(f.DaysSupply)
		if end == NoDay || next > end {
			end = next
		}
	}
	return end
}
