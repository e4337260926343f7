package measures

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
	// At+OnHand).
	OnHand int

	// Status of the denominator so far: two fills on different dates before At, and the
	// exclusions visible so far. A patient not (yet) in the denominator still has a PDC to date.
	InDenominator bool
	Excluded      bool
	Reason        string
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
	t.InDenominator, t.Excluded, t.Reason = r.InDenominator, r.Excluded, r.Reason
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
	return t
}
