package measures

import (
	"math/bits"
	"slices"
)

// Measure is one of the four Part D measures this package computes.
type Measure uint8

// The measures, in the order of the Star Ratings (D08, D09, D10, D12).
const (
	PDCDiabetes Measure = iota // PDC-DR: Medication Adherence for Diabetes Medications
	PDCRASA                    // PDC-RASA: Medication Adherence for Hypertension (RAS antagonists)
	PDCStatin                  // PDC-STA: Medication Adherence for Cholesterol (Statins)
	SUPD                       // Statin Use in Persons with Diabetes
	NumMeasures
)

// Adherence lists the three PDC measures.
var Adherence = [...]Measure{PDCDiabetes, PDCRASA, PDCStatin}

var measureIDs = [...]string{"PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"}
var measureNames = [...]string{
	"Medication Adherence for Diabetes Medications",
	"Medication Adherence for Hypertension (RAS antagonists)",
	"Medication Adherence for Cholesterol (Statins)",
	"Statin Use in Persons with Diabetes",
}

// String is the PQA measure abbreviation.
func (m Measure) String() string {
	if m < NumMeasures {
		return measureIDs[m]
	}
	return "measure?"
}

// Name is the measure's name in the Star Ratings.
func (m Measure) Name() string {
	if m < NumMeasures {
		return measureNames[m]
	}
	return ""
}

// ParseMeasure is the inverse of String.
func ParseMeasure(s string) (Measure, bool) {
	for i, id := range measureIDs {
		if id == s {
			return Measure(i), true
		}
	}
	return 0, false
}

// Class is the drug class a PDC measure is about (ClassNone for SUPD).
func (m Measure) Class() Class {
	switch m {
	case PDCDiabetes:
		return ClassDiabetes
	case PDCRASA:
		return ClassRASA
	case PDCStatin:
		return ClassStatin
	}
	return ClassNone
}

// Threshold: a patient is adherent at PDC >= 80 % (PQA). Compared in integers: covered*5 >= days*4.
const (
	thresholdNum = 4
	thresholdDen = 5
	// MinTreatmentDays: the index date at least 91 days before the end of the treatment period.
	MinTreatmentDays = 91
	minAdultAge      = 18
	supdMinAge       = 40
	supdMaxAge       = 75
)

// Fill is one dispense of one measured ingredient. A combination product is one Fill per
// ingredient (ValueSet.Fills).
type Fill struct {
	Date Day
	// DaysSupply 0: a dispense recorded without a days' supply. It is a fill of its class for
	// SUPD and for the exclusions (one insulin fill), and covers no day of a PDC measure.
	DaysSupply int
	Ingredient string // the "same medication" of the overlap rule: the ingredient name
	Class      Class
}

// Period is a closed range of days (both ends included), as a hospital stay from admission to
// discharge day.
type Period struct{ Start, End Day }

// Patient is what the measures read about one person for one measurement year.
type Patient struct {
	BirthDate       Day // NoDay when unknown: the age rules then fail (not in any denominator)
	DeathDate       Day // NoDay when alive
	EnrolledThrough Day // last day of enrollment when it ends in the year; NoDay when enrolled through year end
	Fills           []Fill
	Stays           []Period // inpatient and skilled-nursing stays
	Hospice         bool     // hospice enrollment at any time in the measurement year
	ESRD            bool     // ESRD diagnosis or dialysis at any time in the measurement year
	SUPDExclusion   bool     // a SUPD clinical exclusion documented in the year (rhabdomyolysis, pregnancy, ...)
}

// ReasonUnder18 is the Reason of an adherence measure for a patient under 18 at the end of the
// measurement year (the PQA PDC measures count adults only).
const ReasonUnder18 = "under 18 at the end of the measurement year"

// ReasonOneFill is the Reason of an adherence measure for a patient with fills of the class on
// one date only this year (the denominator needs two).
const ReasonOneFill = "fewer than two fills on different dates"

// Result is one measure for one patient for one measurement year.
type Result struct {
	Measure       Measure
	InDenominator bool   // counted in the measure's denominator
	Excluded      bool   // met the denominator criteria but an exclusion removes the patient
	Reason        string // why not in the denominator, or the exclusion; "" when in it
	Met           bool   // numerator: PDC >= 80 % (SUPD: a statin fill in the year)
	// Ineligible: an age or exclusion rule takes the patient out of this measure whatever the
	// fills (under 18 at the end of the year, hospice, ESRD, insulin for PDC-DR, sacubitril/
	// valsartan for PDC-RASA), even before the patient meets the denominator's fill rules, when
	// Reason names the fill rule instead. For the cards, which speak between the first fill and
	// the second: the tallies read InDenominator and Excluded.
	Ineligible bool

	// PDC measures only (also filled in when excluded, for information).
	Index    Day // first fill of the class in the year
	End      Day // last day of the treatment period
	Days     int // days in the treatment period, stays removed
	Covered  int // of those, days covered
	StayDays int // inpatient/SNF days removed from the treatment period
}

// PDC is Covered/Days, 0 when there are no days.
func (r Result) PDC() float64 {
	if r.Days == 0 {
		return 0
	}
	return float64(r.Covered) / float64(r.Days)
}

// Results holds one Result per measure, indexed by Measure.
type Results [NumMeasures]Result

// treatmentEnd is the last day of the measurement year, or death or disenrollment if earlier.
func treatmentEnd(p *Patient, year int) Day {
	end := YearEnd(year)
	if p.DeathDate != NoDay && p.DeathDate < end {
		end = p.DeathDate
	}
	if p.EnrolledThrough != NoDay && p.EnrolledThrough < end {
		end = p.EnrolledThrough
	}
	return end
}

// Evaluate computes the four measures for one patient and measurement year.
func Evaluate(p *Patient, year int) Results {
	var out Results
	end := treatmentEnd(p, year)
	jan1 := YearStart(year)
	var scratch []Fill
	var cov coverage
	for _, m := range Adherence {
		out[m], scratch = adherence(p, year, m, jan1, end, end+1, scratch, &cov)
	}
	out[SUPD] = supd(p, year, jan1, end)
	return out
}

// SUPDAt is SUPD as the fills dated before day at show it (at after the treatment period: the
// year's answer).
func SUPDAt(p *Patient, year int, at Day) Result {
	end := treatmentEnd(p, year)
	r := supd(p, year, YearStart(year), min(end, at-1))
	r.End = end
	return r
}

// distinctDates counts the different dates of fills of the classes in [from, to].
//
// supplied counts only fills with a days' supply: the PDC measures' index date and two-fill rule
// are about the supply a fill gives (a dispense recorded without one, DaysSupply 0, covers no day
// and must not start the treatment period), while SUPD counts every fill.
func distinctDates(fills []Fill, from, to Day, supplied bool, classes ...Class) (n int, first Day) {
	var seen [4]Day
	more := map[Day]bool(nil)
	first = NoDay
	for _, f := range fills {
		if f.Date < from || f.Date > to || !slices.Contains(classes, f.Class) || (supplied && f.DaysSupply <= 0) {
			continue
		}
		if first == NoDay || f.Date < first {
			first = f.Date
		}
		if slices.Contains(seen[:min(n, len(seen))], f.Date) || more[f.Date] {
			continue
		}
		if n < len(seen) {
			seen[n] = f.Date
		} else {
			if more == nil {
				more = map[Day]bool{}
			}
			more[f.Date] = true
		}
		n++
	}
	return n, first
}

func hasClass(fills []Fill, from, to Day, c Class) bool {
	for _, f := range fills {
		if f.Class == c && f.Date >= from && f.Date <= to {
			return true
		}
	}
	return false
}

// adherence computes one PDC measure. Only fills dated before `before` are read (Evaluate passes
// end+1; PDC to date passes its date), so the same code answers "as of" questions. cov holds the
// day-by-day coverage afterwards (PDCToDate counts it on both sides of its date).
func adherence(p *Patient, year int, m Measure, jan1, end, before Day, scratch []Fill, cov *coverage) (Result, []Fill) {
	r := Result{Measure: m, Index: NoDay, End: end}
	class := m.Class()
	last := min(end, before-1)
	n, first := distinctDates(p.Fills, jan1, last, true, class)
	if n == 0 {
		r.Reason = "no fills of the class in the measurement year"
		return r, scratch
	}
	r.Index = first
	scratch = cov.run(p, class, jan1, first, end, before, scratch)
	r.Days, r.Covered, r.StayDays = cov.days, cov.covered, cov.stayDays
	switch {
	case n < 2:
		r.Reason = ReasonOneFill
	case int(end-first)+1 < MinTreatmentDays:
		r.Reason = "first fill less than 91 days before the end of the treatment period"
	case p.BirthDate == NoDay:
		r.Reason = "birth date unknown"
	case AgeOn(p.BirthDate, YearEnd(year)) < minAdultAge:
		r.Reason = ReasonUnder18
	case r.Days == 0:
		r.Reason = "treatment period spent entirely in inpatient or skilled-nursing stays"
	case p.Hospice:
		r.Excluded, r.Reason = true, "hospice"
	case p.ESRD:
		r.Excluded, r.Reason = true, "end-stage renal disease"
	case m == PDCDiabetes && hasClass(p.Fills, jan1, last, ClassInsulin):
		r.Excluded, r.Reason = true, "insulin fill in the measurement year"
	case m == PDCRASA && hasClass(p.Fills, jan1, last, ClassSacubitril):
		r.Excluded, r.Reason = true, "sacubitril/valsartan fill in the measurement year"
	default:
		r.InDenominator = true
		r.Met = r.Covered*thresholdDen >= r.Days*thresholdNum
	}
	r.Ineligible = r.Excluded || r.Reason == ReasonUnder18 || ineligible(p, year, m, jan1, last)
	return r, scratch
}

// ineligible reports the age and exclusion rules of adherence on their own, whatever the fills
// (Result.Ineligible): a child, or an ESRD patient, with one statin fill was not yet "excluded"
// (the fill rule answered first) and was shown an adherence card.
func ineligible(p *Patient, year int, m Measure, jan1, last Day) bool {
	return (p.BirthDate != NoDay && AgeOn(p.BirthDate, YearEnd(year)) < minAdultAge) || p.Hospice || p.ESRD ||
		(m == PDCDiabetes && hasClass(p.Fills, jan1, last, ClassInsulin)) ||
		(m == PDCRASA && hasClass(p.Fills, jan1, last, ClassSacubitril))
}

// supd computes Statin Use in Persons with Diabetes.
func supd(p *Patient, year int, jan1, end Day) Result {
	r := Result{Measure: SUPD, Index: NoDay, End: end}
	n, first := distinctDates(p.Fills, jan1, end, false, ClassDiabetes, ClassInsulin, ClassAmylin, ClassSUPDOnly)
	r.Index = first
	age := -1
	if p.BirthDate != NoDay {
		age = AgeOn(p.BirthDate, jan1)
	}
	switch {
	case n < 2:
		r.Reason = "fewer than two diabetes medication fills on different dates"
	case age < 0:
		r.Reason = "birth date unknown"
	case age < supdMinAge || age > supdMaxAge:
		r.Reason = "not aged 40-75 on the first day of the measurement year"
	case p.Hospice:
		r.Excluded, r.Reason = true, "hospice"
	case p.ESRD:
		r.Excluded, r.Reason = true, "end-stage renal disease"
	case p.SUPDExclusion:
		r.Excluded, r.Reason = true, "SUPD clinical exclusion"
	default:
		r.InDenominator = true
		r.Met = hasClass(p.Fills, jan1, end, ClassStatin)
	}
	return r
}

// yearBits is a set of days of one measurement year (day 0 = January 1; 366 days fit in 6 words).
type yearBits [6]uint64

func (b *yearBits) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b *yearBits) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b *yearBits) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// coverage is the days-covered computation of one class over one treatment period.
type coverage struct {
	days, covered, stayDays int
	stay, cov               yearBits
}

// countIn counts the days in [from, to] (offsets) that are covered, and those that are in the
// treatment period (not in a stay).
func (c *coverage) countIn(from, to int) (covered, days int) {
	for d := from; d <= to; d++ {
		if c.stay.has(d) {
			continue
		}
		days++
		if c.cov.has(d) {
			covered++
		}
	}
	return covered, days
}

// run fills in c for the treatment period [index, end], reading fills of the class dated in
// [jan1, min(end, before-1)].
//
// Each ingredient has its own supply line: a fill starts on its date or, when the same ingredient's
// earlier supply has not run out, the day after it does (overlap shifted forward). A day in an
// inpatient/SNF stay uses no supply (the supply is shifted past discharge) and is not in the
// treatment period. Days covered are the union over ingredients, so two drugs of the class on the
// same day count once. Supply beyond `end` is dropped.
func (c *coverage) run(p *Patient, class Class, jan1, index, end, before Day, scratch []Fill) []Fill {
	lo, hi := int(index-jan1), int(end-jan1) // day offsets in the year
	stay, covered := &c.stay, &c.cov
	*stay, *covered = yearBits{}, yearBits{}
	for _, s := range p.Stays {
		for d := max(int(s.Start-jan1), lo); d <= min(int(s.End-jan1), hi); d++ {
			stay.set(d)
		}
	}
	fills := scratch[:0]
	last := min(end, before-1)
	for _, f := range p.Fills {
		if f.Class == class && f.Date >= jan1 && f.Date <= last && f.DaysSupply > 0 {
			fills = append(fills, f)
		}
	}
	slices.SortFunc(fills, func(a, b Fill) int {
		if a.Ingredient != b.Ingredient {
			if a.Ingredient < b.Ingredient {
				return -1
			}
			return 1
		}
		if a.Date != b.Date {
			return int(a.Date - b.Date)
		}
		return b.DaysSupply - a.DaysSupply // longest first: the one kept of a same-day pair
	})
	next := 0 // the day the current ingredient's supply runs out (offset), valid within one ingredient
	for i, f := range fills {
		d := int(f.Date - jan1)
		if i > 0 && fills[i-1].Ingredient == f.Ingredient {
			if fills[i-1].Date == f.Date {
				continue // same ingredient, same date of service: only the longest days' supply counts
			}
			d = max(d, next)
		}
		for left := f.DaysSupply; left > 0 && d <= hi; d++ {
			if stay.has(d) {
				continue
			}
			covered.set(d)
			left--
		}
		next = d
	}
	c.stayDays = stay.count()
	c.days = hi - lo + 1 - c.stayDays
	c.covered = covered.count()
	return fills
}
