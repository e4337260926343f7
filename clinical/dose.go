package clinical

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Patient holds what the order alone cannot give: the latest body weight and height
// Observations. Zero means unknown. Dates are the Observations' effective dates (zero: undated).
type Patient struct {
	WeightKg   float64
	WeightDate time.Time
	HeightCm   float64
	HeightDate time.Time
}

// Limits are the labelled bounds of one drug group, from the catalog. A zero field is no check.
type Limits struct {
	// Name opens the Implausible sentences, e.g. "IV trastuzumab". Empty: "the order".
	Name string
	// MaxDoseMg is the label's largest single administration in mg; MaxMgPerKg and MaxMgPerM2 the
	// same for a weight- or BSA-based order (checked against the mg/kg or mg/m2 as ordered);
	// MaxDailyMg the label's largest daily dose (retail). A dose more than ImplausibleFactor
	// times a maximum is implausible.
	MaxDoseMg, MaxMgPerKg, MaxMgPerM2, MaxDailyMg float64
	// FixedDose: the label gives one adult dose, MaxDoseMg (pegfilgrastim 6 mg), so any dose above
	// it is implausible, not only one more than ImplausibleFactor times it.
	FixedDose bool
	// MinIntervalDays is the shortest interval between administrations the label allows (7 for
	// trastuzumab, whose weekly regimen is its most frequent); a shorter one is implausible.
	// LabelledIntervalDays is the usual maintenance interval (21), quoted in the sentence.
	MinIntervalDays, LabelledIntervalDays float64
	// MaxAdministrations is the largest plausible course; more is implausible.
	MaxAdministrations int
	// MaxWeightAgeDays is how old a body weight may be, relative to the order's authoredOn, before
	// a weight- or BSA-based dose carries a caveat. Zero means DefaultMaxWeightAgeDays. Height is
	// not aged: an adult's height does not move a BSA dose the way a weight change does.
	MaxWeightAgeDays float64
}

// ImplausibleFactor is how far above a label maximum a dose must be before it is implausible
// rather than merely high (issue 10: "a dose more than twice the label maximum"). Doses between
// the maximum and twice it are priced as ordered: the prescriber may have a reason, and pricing
// is not dose checking.
const ImplausibleFactor = 2

// DefaultMaxWeightAgeDays is the default age limit of a body weight used for a weight-based dose.
// Oncology pharmacies re-weigh before each cycle and recalculate when weight moves by 10 %; for
// pricing, a weight from the last quarter is close enough, an older one is named on the card.
const DefaultMaxWeightAgeDays = 90

// Plausible ranges of a body weight (kg) and height (cm); outside them the Observation is
// treated as unknown (a weight in grams sent as kg, a height in metres sent as cm).
const (
	minWeightKg, maxWeightKg = 0.3, 650
	minHeightCm, maxHeightCm = 20, 275
	// maxCount bounds counts, repeats and administrations: a course of 10,000 is not an order.
	maxCount = 10000
	// minIntervalDays is one minute: the shortest interval read as a schedule.
	minIntervalDays = 1.0 / 1440
)

// Phase is one step of a regimen: the dosageInstructions sharing one sequence.
type Phase struct {
	Sequence        int     // dosageInstruction.sequence (the array position when absent)
	Dose            float64 // per administration, in Unit; 0 when it could not be read
	Unit            Unit
	IntervalDays    float64 // between administrations; 0 when not stated (a one-off dose)
	Administrations int     // in this phase; 0 when not stated
	Basis           string  // how Dose was reached, e.g. "6 mg/kg x 70 kg (body weight of 2026-01-10)"
	Source          string  // the members read, e.g. "doseQuantity; timing.repeat; count"
}

// Regimen is the dose and course of one order. The per-course figures cover every phase; the
// per-administration figures are the maintenance phase (the last), which is what recurs.
//
// Implausible, Unknown and Caveats are PHI-free sentences (no weights, heights or dates) fit for
// a log or a card. Basis and Phase.Basis may quote the patient's weight and height: card only.
type Regimen struct {
	Phases []Phase

	Unit         Unit    // of Dose, DosePerDay and TotalDose ("" when no dose was read)
	Dose         float64 // maintenance dose per administration
	IntervalDays float64 // maintenance interval (0: not stated)
	DosePerDay   float64 // maintenance dose per day (retail prices mg per day); 0 without interval

	Administrations int     // per course, every phase and fill; 0 when the course is not stated
	TotalDose       float64 // over the course (loading dose included); 0 when not known
	DaysOfSupply    int     // one fill, from dispenseRequest; 0 when it gives none
	Fills           int     // 1 + numberOfRepeatsAllowed (1 without a dispenseRequest)

	// DoseImplausible: some dose is beyond ImplausibleFactor x a label maximum; give no figures.
	// ScheduleImplausible: the interval or the course is not one the label allows; price the
	// labelled schedule instead (the dose may still stand), and say so.
	DoseImplausible, ScheduleImplausible bool
	// DoseAboveLabel: some dose is above a label maximum but not implausible; it is priced as
	// ordered and Caveats says so.
	DoseAboveLabel bool
	Implausible    []string
	Unknown        []string // what could not be read
	Caveats        []string // read, but the card should say this
	Basis          string   // of the maintenance dose
}

// MgPerAdministration is the maintenance dose in mg, 0 when it is not in mg or not known.
func (r *Regimen) MgPerAdministration() float64 {
	if r.Unit != Mg {
		return 0
	}
	return r.Dose
}

// CourseDays is how many days the course's scheduled administrations span: administrations x
// interval, summed over the phases with an interval (a one-off loading dose adds none), rounded to
// whole days. Retail prices DosePerDay x CourseDays; 0 when the course is not known.
func (r *Regimen) CourseDays() int {
	if r.Administrations == 0 {
		return 0
	}
	days := 0.0
	for i := range r.Phases {
		days += float64(r.Phases[i].Administrations) * r.Phases[i].IntervalDays
	}
	return int(math.Round(days))
}

// Scorable reports whether the order can be priced as written: a maintenance dose in mg, a
// course length, and nothing implausible.
func (r *Regimen) Scorable() bool {
	return r.Unit == Mg && r.Dose > 0 && r.Administrations > 0 && !r.DoseImplausible && !r.ScheduleImplausible
}

// instr is one dosageInstruction read.
type instr struct {
	key      float64 // phase key: sequence, or array position
	dose     float64 // per administration, in unit
	unit     Unit
	tablets  float64 // tablets per administration when dosed in tablets (dispense quantity)
	interval float64
	count    int     // timing count, 0 when absent
	bound    float64 // days from boundsDuration or boundsPeriod, 0 when absent
	admins   int     // from count/bounds, 0 when not stated
	basis    string
	source   []string
}

// Dose reads the order's dose and course. strengthMg is the mg in one tablet (or one unit of
// presentation) of the product the order's code names, 0 when the code names none; it prices a
// dose written in tablets. p supplies body weight and height for mg/kg and mg/m2 doses; lim the
// group's label bounds. Dose never fails: whatever it cannot read is in Unknown.
//
// How it reads, and why (a pharmacist's conventions):
//
//   - Phases: dosageInstructions in sequence order; an absent sequence counts as the
//     instruction's 1-based array position, so unsequenced instructions are consecutive. Those
//     sharing a sequence are concurrent (1 tablet morning + 2 evening): their doses add up per day.
//   - Dose: of several doseAndRate entries, the first that states the dose outright (mg, units,
//     tablets) wins over one that needs a weight or BSA; the EHR's own calculated dose used the
//     weight the prescriber saw. A doseRange is priced at its high end: days' supply for
//     range directions is counted at the maximum the directions allow (the pharmacy-claim
//     convention), the cost ceiling is what a committee compares, and the same dose is applied to
//     every option so the ranking does not depend on it. frequencyMax is used the same way;
//     periodMax is not (period is the shorter interval, the costlier reading).
//   - Course: timing.repeat.count; else boundsDuration or boundsPeriod (a date-only end is
//     inclusive), as the administration dates in the half-open window [start, start+duration):
//     ceil(duration/interval), so "daily for 30 days" is 30, "weekly for 4 weeks" 4 and "every 3
//     weeks for 52 weeks" 18 (days 0, 21, ..., 357). floor(duration/interval)+1 would give 31 for
//     the first. With both, the smaller (FHIR: the schedule ends at whichever comes first). A
//     phase before the last with no count, bounds or interval is one administration (a loading
//     dose). The last phase with neither takes the dispenseRequest: expectedSupplyDuration (or
//     quantity over the daily amount) x (1 + numberOfRepeatsAllowed). Timing, when it states a
//     course, wins over dispenseRequest: it is the prescriber's schedule, the dispense the
//     pharmacy's logistics.
//   - As-needed (PRN) directions are read like scheduled ones: their frequency is a maximum,
//     which is the ceiling convention above.
//   - mg/kg and mcg/kg: x the body weight; mg/m2: x the Mosteller BSA sqrt(cm x kg / 3600),
//     unrounded (rounding to vials is a separate, explicit policy).
func Dose(o Order, strengthMg float64, p Patient, lim Limits) Regimen {
	r := Regimen{Fills: 1}
	authored, authoredOK := o.Authored()
	supplyDays, fills := readDispense(&r, o.DispenseRequest)
	r.Fills = fills
	if supplyDays > 0 {
		r.DaysOfSupply = int(math.Round(supplyDays))
	}
	if len(o.DosageInstruction) == 0 {
		r.Unknown = append(r.Unknown, "the order has no dosageInstruction")
		return r
	}

	ins := make([]instr, 0, len(o.DosageInstruction))
	usedWeight := false
	for i := range o.DosageInstruction {
		d := &o.DosageInstruction[i]
		in := instr{key: float64(i + 1)}
		if s, ok := wholeNumber(d.Sequence, maxCount); ok {
			in.key = float64(s)
		}
		w := readDoseInto(&in, &r, d, strengthMg, p, lim)
		usedWeight = usedWeight || w
		readTimingInto(&in, &r, d.Timing, o.AuthoredOn)
		ins = append(ins, in)
	}
	sort.SliceStable(ins, func(i, j int) bool { return ins[i].key < ins[j].key })

	var lastIns []instr // the instructions of the last phase
	for i := 0; i < len(ins); {
		j := i + 1
		for j < len(ins) && ins[j].key == ins[i].key {
			j++
		}
		r.Phases = append(r.Phases, merge(&r, ins[i:j]))
		lastIns = ins[i:j]
		i = j
	}

	// Course length, phase by phase.
	last := len(r.Phases) - 1
	for i := range r.Phases {
		ph := &r.Phases[i]
		if ph.Administrations > 0 {
			continue
		}
		switch {
		case i < last && ph.IntervalDays == 0:
			ph.Administrations = 1
			ph.Source = joinSource(ph.Source, "one administration before the next phase")
		case i == last && supplyDays > 0 && ph.IntervalDays > 0:
			ph.Administrations = administrationsIn(supplyDays*float64(fills), ph.IntervalDays)
			ph.Source = joinSource(ph.Source, "dispenseRequest")
		case i == last && supplyDays == 0 && ph.IntervalDays > 0 && o.DispenseRequest != nil &&
			o.DispenseRequest.Quantity != nil && ph.Dose > 0:
			if days, ok := quantityDays(o.DispenseRequest.Quantity, ph, lastIns); ok {
				r.DaysOfSupply = int(days)
				ph.Administrations = administrationsIn(days*float64(fills), ph.IntervalDays)
				ph.Source = joinSource(ph.Source, "dispenseRequest.quantity")
			}
		}
	}

	// Totals.
	main := &r.Phases[last]
	r.Unit, r.Dose, r.IntervalDays, r.Basis = main.Unit, main.Dose, main.IntervalDays, main.Basis
	if main.IntervalDays > 0 && main.Dose > 0 {
		r.DosePerDay = main.Dose / main.IntervalDays
	}
	total, admins, known := 0.0, 0, true
	for i := range r.Phases {
		ph := &r.Phases[i]
		if ph.Administrations == 0 {
			known = false
			if i == last && ph.IntervalDays == 0 && (supplyDays > 0 || o.DispenseRequest != nil && o.DispenseRequest.Quantity != nil) {
				r.Unknown = append(r.Unknown, fmt.Sprintf("dosage phase %d states no frequency, so its supply gives no number of administrations", i+1))
			} else {
				r.Unknown = append(r.Unknown, fmt.Sprintf("dosage phase %d states no count, duration or supply", i+1))
			}
			continue
		}
		admins += ph.Administrations
		if ph.Dose > 0 && ph.Unit == r.Unit {
			total += ph.Dose * float64(ph.Administrations)
		} else {
			total = math.NaN()
		}
	}
	if known && admins <= maxCount {
		r.Administrations = admins
		if !math.IsNaN(total) && total > 0 {
			r.TotalDose = total
		}
	} else if known {
		r.Unknown = append(r.Unknown, "the course has more administrations than any order would")
	}

	checkLimits(&r, lim)
	maxAge := lim.MaxWeightAgeDays
	if maxAge <= 0 {
		maxAge = DefaultMaxWeightAgeDays
	}
	if !usedWeight && lim.MaxMgPerKg > 0 && p.WeightKg > 0 && !p.WeightDate.IsZero() && authoredOK &&
		authored.Sub(p.WeightDate).Hours()/24 <= maxAge {
		checkMgPerKg(&r, lim, p.WeightKg)
	}
	if usedWeight {
		switch {
		case p.WeightDate.IsZero():
			r.Caveats = append(r.Caveats, "the body weight used for the dose has no date")
		case authoredOK && authored.Sub(p.WeightDate).Hours()/24 > maxAge:
			r.Caveats = append(r.Caveats, fmt.Sprintf("the body weight used for the dose is more than %s days older than the order", num(maxAge)))
		}
	}
	return r
}

// readDispense reads the days one fill lasts (expectedSupplyDuration; quantity is read later,
// once the daily amount is known) and the number of fills.
func readDispense(r *Regimen, d *DispenseRequest) (days float64, fills int) {
	fills = 1
	if d == nil {
		return 0, 1
	}
	if n := d.NumberOfRepeatsAllowed; n != nil && *n != 0 {
		if repeats, ok := wholeNumber(n, 99); ok {
			fills = 1 + repeats
		} else {
			r.Unknown = append(r.Unknown, "dispenseRequest.numberOfRepeatsAllowed is not a whole number from 0 to 99")
		}
	}
	if q := d.ExpectedSupplyDuration; q != nil {
		if v, ok := durationDays(q); ok {
			days = math.Round(v)
			if days < 1 {
				days = 1
			}
		} else {
			r.Unknown = append(r.Unknown, "dispenseRequest.expectedSupplyDuration is not a positive duration")
		}
	}
	return days, fills
}

// quantityDays is how long a dispensed quantity lasts at the phase's daily amount (ins are the
// phase's instructions), in whole days
// (rounded down: the claim convention, the supply runs out on the next day). The quantity must be
// in the dose's own terms: tablets for a tablet dose, mass for a mass dose, units for units.
func quantityDays(q *Quantity, ph *Phase, ins []instr) (float64, bool) {
	if q.Value == nil || !positive(*q.Value) {
		return 0, false
	}
	u, ok := parseDoseUnit(q)
	if !ok || u.per != perNone {
		return 0, false
	}
	var perDay float64 // in the quantity's terms
	switch u.kind {
	case kindPresentation:
		for _, in := range ins {
			if in.tablets <= 0 || in.interval <= 0 {
				return 0, false
			}
			perDay += in.tablets / in.interval
		}
	case kindMass:
		if ph.Unit != Mg {
			return 0, false
		}
		perDay = ph.Dose / ph.IntervalDays / u.factor
	case kindUnits:
		if ph.Unit != Units {
			return 0, false
		}
		perDay = ph.Dose / ph.IntervalDays
	}
	if !positive(perDay) {
		return 0, false
	}
	days := math.Floor(*q.Value/perDay + 1e-9)
	return days, days >= 1 && days <= maxCount
}

// administrationsIn counts administration dates in the half-open window [0, days) at the
// interval: ceil(days/interval), with a tolerance for the float error of 52*7/21 and the like.
func administrationsIn(days, interval float64) int {
	n := math.Ceil(days/interval - 1e-9)
	if n < 1 {
		return 1
	}
	if n > maxCount+1 {
		return maxCount + 1
	}
	return int(n)
}

// candidate is one doseAndRate entry's dose.
type candidate struct {
	q                *Quantity
	u                doseUnit
	rangeHi, rangeLo bool
}

// pickDose chooses the doseAndRate entry Dose prices: the first stating the dose outright, else
// the first weight- or BSA-based one (see Dose).
func pickDose(d *Dosage, strengthMg float64) (candidate, bool) {
	var weighted candidate
	found := false
	for i := range d.DoseAndRate {
		dr := &d.DoseAndRate[i]
		c := candidate{q: dr.DoseQuantity}
		if c.q == nil && dr.DoseRange != nil {
			c.q, c.rangeHi = dr.DoseRange.High, true
			if c.q == nil || c.q.Value == nil {
				c.q, c.rangeHi, c.rangeLo = dr.DoseRange.Low, false, true
			}
		}
		if c.q == nil || c.q.Value == nil {
			continue
		}
		u, ok := parseDoseUnit(c.q)
		if !ok {
			continue
		}
		c.u = u
		if u.per == perNone && (u.kind != kindPresentation || strengthMg > 0) {
			return c, true
		}
		if !found {
			weighted, found = c, true
		}
	}
	return weighted, found
}

// Needs reports whether Dose will need the patient's body weight and height for this order (a
// dose per kg or per m2 with no outright alternative), so a caller fetches Observations only then.
func Needs(o *Order, strengthMg float64) (weight, height bool) {
	for i := range o.DosageInstruction {
		c, ok := pickDose(&o.DosageInstruction[i], strengthMg)
		if !ok {
			continue
		}
		switch c.u.per {
		case perKg:
			weight = true
		case perM2:
			weight, height = true, true
		}
	}
	return weight, height
}

// readDoseInto reads the dose of one instruction; it reports whether a body weight was used.
func readDoseInto(in *instr, r *Regimen, d *Dosage, strengthMg float64, p Patient, lim Limits) bool {
	best, ok := pickDose(d, strengthMg)
	if !ok {
		if len(d.DoseAndRate) == 0 {
			r.Unknown = append(r.Unknown, "a dosageInstruction states no dose")
		} else {
			r.Unknown = append(r.Unknown, "a dosageInstruction's dose has no value or a unit valuerx does not read (mg, g, mcg, units, tablets, mg/kg, mg/m2)")
		}
		return false
	}
	v := *best.q.Value
	if !positive(v) {
		r.Unknown = append(r.Unknown, "a dosageInstruction's dose is not a positive number")
		return false
	}
	src := "doseQuantity"
	switch {
	case best.rangeHi:
		src = "doseRange.high"
	case best.rangeLo:
		src = "doseRange.low (no high)"
	}
	in.source = append(in.source, src)
	u := best.u
	stated := num(v) + " " + u.label
	base, unit := v*u.factor, Mg
	switch u.kind {
	case kindUnits:
		unit = Units
	case kindPresentation:
		if strengthMg <= 0 || !positive(strengthMg) {
			r.Unknown = append(r.Unknown, "a dose in tablets for a product of no known strength")
			return false
		}
		in.tablets = v
		base = v * strengthMg
		in.basis = fmt.Sprintf("%s x %s mg", plural(v, "tablet"), num(strengthMg))
	}
	in.unit = unit
	switch u.per {
	case perNone:
		if in.basis == "" {
			in.basis = stated
		}
		in.dose = base
	case perKg:
		if !positive(p.WeightKg) || p.WeightKg < minWeightKg || p.WeightKg > maxWeightKg {
			r.Unknown = append(r.Unknown, "no usable body weight for a "+u.label+" dose")
			return false
		}
		in.dose = base * p.WeightKg
		in.basis = stated + " x " + num(p.WeightKg) + " kg" + observed("body weight", p.WeightDate)
		switch {
		case lim.MaxMgPerKg > 0 && unit == Mg && base > ImplausibleFactor*lim.MaxMgPerKg:
			r.DoseImplausible = true
			r.Implausible = append(r.Implausible, fmt.Sprintf("%s dose %s mg/kg is more than twice the label maximum %s mg/kg",
				name(lim), num(base), num(lim.MaxMgPerKg)))
		case lim.MaxMgPerKg > 0 && unit == Mg && base > lim.MaxMgPerKg*(1+1e-9):
			// Priced as ordered, as an mg dose between the maximum and twice it is, and said.
			r.DoseAboveLabel = true
			r.Caveats = append(r.Caveats, fmt.Sprintf("%s dose %s mg/kg is above the label maximum %s mg/kg", name(lim), num(base), num(lim.MaxMgPerKg)))
		}
		return true
	case perM2:
		if !positive(p.WeightKg) || p.WeightKg < minWeightKg || p.WeightKg > maxWeightKg {
			r.Unknown = append(r.Unknown, "no usable body weight for the body surface area of a "+u.label+" dose")
			return false
		}
		if !positive(p.HeightCm) || p.HeightCm < minHeightCm || p.HeightCm > maxHeightCm {
			r.Unknown = append(r.Unknown, "no usable height for the body surface area of a "+u.label+" dose")
			return false
		}
		bsa := math.Sqrt(p.HeightCm * p.WeightKg / 3600)
		in.dose = base * bsa
		in.basis = fmt.Sprintf("%s x BSA %s m2 (Mosteller: %s cm, %s kg%s)", stated, num(bsa), num(p.HeightCm), num(p.WeightKg),
			observedInline(p.WeightDate))
		switch {
		case lim.MaxMgPerM2 > 0 && unit == Mg && base > ImplausibleFactor*lim.MaxMgPerM2:
			r.DoseImplausible = true
			r.Implausible = append(r.Implausible, fmt.Sprintf("%s dose %s mg/m2 is more than twice the label maximum %s mg/m2",
				name(lim), num(base), num(lim.MaxMgPerM2)))
		case lim.MaxMgPerM2 > 0 && unit == Mg && base > lim.MaxMgPerM2*(1+1e-9):
			r.DoseAboveLabel = true
			r.Caveats = append(r.Caveats, fmt.Sprintf("%s dose %s mg/m2 is above the label maximum %s mg/m2", name(lim), num(base), num(lim.MaxMgPerM2)))
		}
		return true
	}
	return false
}

// readTimingInto reads the interval and the stated course of one instruction.
func readTimingInto(in *instr, r *Regimen, t *Timing, authoredOn string) {
	if t == nil {
		return
	}
	if rp := t.Repeat; rp != nil {
		if iv, ok, said := repeatInterval(rp); ok {
			in.interval = iv
			in.source = append(in.source, "timing.repeat")
		} else if said {
			r.Unknown = append(r.Unknown, "timing.repeat gives a frequency or period valuerx cannot read")
		}
		if rp.Count != nil {
			if c, ok := wholeNumber(rp.Count, maxCount); ok {
				if cm, ok := wholeNumber(rp.CountMax, maxCount); ok && cm > c {
					c = cm
				}
				in.count = c
				in.source = append(in.source, "count")
			} else {
				r.Unknown = append(r.Unknown, "timing.repeat.count is not a whole number from 1 to 10000")
			}
		}
		if rp.BoundsDuration != nil {
			if d, ok := durationDays(rp.BoundsDuration); ok {
				in.bound = d
				in.source = append(in.source, "boundsDuration")
			} else {
				r.Unknown = append(r.Unknown, "timing.repeat.boundsDuration is not a positive duration")
			}
		} else if bp := rp.BoundsPeriod; bp != nil && bp.End != "" {
			if d, ok := periodDays(bp, authoredOn); ok {
				in.bound = d
				in.source = append(in.source, "boundsPeriod")
			} else {
				r.Unknown = append(r.Unknown, "timing.repeat.boundsPeriod has no readable start and end")
			}
		}
	}
	if in.interval == 0 && t.Code != nil {
		for _, c := range t.Code.Coding {
			if iv, ok := codeInterval(c.Code); ok {
				in.interval = iv
				in.source = append(in.source, "timing.code "+strings.ToUpper(c.Code))
				break
			}
		}
	}
	switch {
	case in.count > 0 && in.bound > 0 && in.interval > 0:
		in.admins = min(in.count, administrationsIn(in.bound, in.interval))
	case in.count > 0:
		in.admins = in.count
	case in.bound > 0 && in.interval > 0:
		in.admins = administrationsIn(in.bound, in.interval)
	}
}

// repeatInterval is the days between administrations; said is true when the repeat states a
// frequency or period at all (so failing to read it is worth reporting).
func repeatInterval(rp *Repeat) (interval float64, ok, said bool) {
	perDayTimes := max(len(rp.TimeOfDay), len(rp.When))
	said = rp.Frequency != nil || rp.Period != nil || rp.PeriodUnit != "" || perDayTimes > 0 || len(rp.DayOfWeek) > 0
	freq := 0
	if rp.Frequency != nil {
		f, okf := wholeNumber(rp.Frequency, maxCount)
		if !okf {
			return 0, false, said
		}
		freq = f
		if fm, ok := wholeNumber(rp.FrequencyMax, maxCount); ok && fm > freq {
			freq = fm
		}
	}
	var periodDays float64
	switch {
	case rp.Period != nil || rp.PeriodUnit != "":
		// A periodUnit with no period ("frequency 2, periodUnit d") is sent by some systems for
		// "per day": FHIR requires the period, but 1 is the only reading.
		period := 1.0
		if rp.Period != nil {
			period = *rp.Period
		}
		ud, okd := unitDays(rp.PeriodUnit)
		if !okd || !positive(period) {
			return 0, false, said
		}
		periodDays = period * ud
	case len(rp.DayOfWeek) > 0:
		periodDays = 7
	case perDayTimes > 0:
		periodDays = 1
	default:
		return 0, false, said
	}
	if freq == 0 {
		freq = max(1, len(rp.DayOfWeek)) * max(1, perDayTimes)
	}
	iv := periodDays / float64(freq)
	// More often than once a minute is a rate, not a schedule of administrations (and would
	// overflow the per-day figures).
	return iv, positive(iv) && iv >= minIntervalDays, said
}

// codeInterval reads the common timing abbreviations (HL7 v3 GTSAbbreviation, the codes EHRs
// put in timing.code) as days between administrations.
func codeInterval(code string) (float64, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	switch c {
	case "QD", "AM", "PM", "BED", "QHS", "DAILY":
		return 1, true
	case "BID":
		return 0.5, true
	case "TID":
		return 1.0 / 3, true
	case "QID":
		return 0.25, true
	case "QOD":
		return 2, true
	case "WK", "QW":
		return 7, true
	case "MO":
		return 30.4375, true
	}
	if strings.HasPrefix(c, "Q") && strings.HasSuffix(c, "H") && len(c) <= 4 {
		if h, err := strconv.Atoi(c[1 : len(c)-1]); err == nil && h > 0 {
			return float64(h) / 24, true
		}
	}
	return 0, false
}

// periodDays is a boundsPeriod's length in days; a date-only end counts its whole day, and a
// missing start is the order's authoredOn.
func periodDays(bp *Period, authoredOn string) (float64, bool) {
	start := bp.Start
	if start == "" {
		start = authoredOn
	}
	s, _, ok1 := parseInstant(start)
	e, endDateOnly, ok2 := parseInstant(bp.End)
	if !ok1 || !ok2 {
		return 0, false
	}
	if endDateOnly {
		e = e.Add(24 * time.Hour)
	}
	d := e.Sub(s).Hours() / 24
	return d, positive(d)
}

// merge folds the concurrent instructions of one sequence into a phase: doses add up per day.
func merge(r *Regimen, ins []instr) Phase {
	first := &ins[0]
	ph := Phase{Sequence: int(first.key), Dose: first.dose, Unit: first.unit, IntervalDays: first.interval,
		Administrations: first.admins, Basis: first.basis, Source: strings.Join(first.source, "; ")}
	if ph.Dose == 0 {
		ph.Unit = ""
	}
	if len(ins) == 1 {
		return ph
	}
	var perDay, dosePerDay float64
	admins := 0
	var bases []string
	for i := range ins {
		in := &ins[i]
		if in.dose <= 0 || in.interval <= 0 || in.unit != first.unit {
			r.Unknown = append(r.Unknown, "concurrent dosageInstructions of one sequence need a dose in one unit and a frequency each")
			return Phase{Sequence: int(first.key)}
		}
		perDay += 1 / in.interval
		dosePerDay += in.dose / in.interval
		bases = append(bases, in.basis)
		if admins >= 0 && in.admins > 0 {
			admins += in.admins
		} else {
			admins = -1
		}
	}
	ph.IntervalDays = 1 / perDay
	ph.Dose = dosePerDay / perDay // the mean dose per administration
	ph.Administrations = max(admins, 0)
	ph.Basis = "concurrent: " + strings.Join(bases, " + ")
	ph.Source = "concurrent dosageInstructions of sequence " + strconv.Itoa(ph.Sequence)
	return ph
}

// checkLimits compares the regimen with the label.
func checkLimits(r *Regimen, lim Limits) {
	for i := range r.Phases {
		ph := &r.Phases[i]
		if lim.MinIntervalDays > 0 && ph.IntervalDays > 0 && ph.IntervalDays < lim.MinIntervalDays*(1-1e-9) {
			r.ScheduleImplausible = true
			labelled := lim.LabelledIntervalDays
			if labelled <= 0 {
				labelled = lim.MinIntervalDays
			}
			r.Implausible = append(r.Implausible, fmt.Sprintf("%s %s: the label gives %s", name(lim), interval(ph.IntervalDays), interval(labelled)))
		}
		if ph.Unit != Mg || ph.Dose <= 0 {
			continue
		}
		factor := float64(ImplausibleFactor)
		if lim.FixedDose {
			factor = 1
		}
		switch {
		case lim.MaxDoseMg > 0 && ph.Dose > factor*lim.MaxDoseMg*(1+1e-9):
			r.DoseImplausible = true
			if lim.FixedDose {
				r.Implausible = append(r.Implausible, fmt.Sprintf("%s dose %s mg is above the label's fixed dose %s mg",
					name(lim), num(ph.Dose), num(lim.MaxDoseMg)))
			} else {
				r.Implausible = append(r.Implausible, fmt.Sprintf("%s dose %s mg is more than twice the label maximum %s mg",
					name(lim), num(ph.Dose), num(lim.MaxDoseMg)))
			}
		case lim.MaxDoseMg > 0 && ph.Dose > lim.MaxDoseMg*(1+1e-9):
			r.DoseAboveLabel = true
			r.Caveats = append(r.Caveats, fmt.Sprintf("%s dose %s mg is above the label maximum %s mg", name(lim), num(ph.Dose), num(lim.MaxDoseMg)))
		}
		if lim.MaxDailyMg > 0 && ph.IntervalDays > 0 {
			switch daily := ph.Dose / ph.IntervalDays; {
			case daily > factor*lim.MaxDailyMg*(1+1e-9):
				r.DoseImplausible = true
				r.Implausible = append(r.Implausible, fmt.Sprintf("%s %s mg a day is more than twice the label maximum %s mg a day",
					name(lim), num(daily), num(lim.MaxDailyMg)))
			case daily > lim.MaxDailyMg*(1+1e-9):
				r.DoseAboveLabel = true
				r.Caveats = append(r.Caveats, fmt.Sprintf("%s %s mg a day is above the label maximum %s mg a day", name(lim), num(daily), num(lim.MaxDailyMg)))
			}
		}
	}
	if lim.MaxAdministrations > 0 && r.Administrations > lim.MaxAdministrations {
		r.ScheduleImplausible = true
		r.Implausible = append(r.Implausible, fmt.Sprintf("%s course of %d administrations: the label gives at most %d",
			name(lim), r.Administrations, lim.MaxAdministrations))
	}
}

// checkMgPerKg compares the mg doses of an order written in mg with the label's mg/kg maximum,
// for a body weight on record and no older than the weight-based doses accept: 1,100 mg of
// trastuzumab for a 50 kg patient is 22 mg/kg, under the 1,200 mg bound an mg order is checked
// against (8 mg/kg at 150 kg) yet 2.75 times the label's 8 mg/kg (card review, 3 December 2026).
// Said, never blocked (priced as ordered: the weight on record may be wrong), and the sentence
// names neither the weight nor the dose in mg/kg, from which with the dose the weight follows: it
// is PHI-free like the others (Regimen).
func checkMgPerKg(r *Regimen, lim Limits, weightKg float64) {
	for _, ph := range r.Phases {
		if ph.Unit != Mg || ph.Dose <= 0 || ph.Dose/weightKg <= lim.MaxMgPerKg*(1+1e-9) {
			continue
		}
		r.DoseAboveLabel = true
		r.Caveats = append(r.Caveats, fmt.Sprintf("%s dose %s mg is above the label maximum %s mg/kg for the body weight on record",
			name(lim), num(ph.Dose), num(lim.MaxMgPerKg)))
	}
}

func name(lim Limits) string {
	if lim.Name == "" {
		return "the order"
	}
	return lim.Name
}

// interval says an interval in days the way a pharmacist does.
func interval(days float64) string {
	switch {
	case days < 1-1e-9:
		return num(1/days) + " times a day"
	case math.Abs(days-1) < 1e-9:
		return "every day"
	case math.Abs(days-7) < 1e-9:
		return "every week"
	case math.Abs(days/7-math.Round(days/7)) < 1e-9:
		return "every " + num(days/7) + " weeks"
	}
	return "every " + num(days) + " days"
}

// num formats a figure with at most two decimals and no trailing zeros.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func plural(v float64, word string) string {
	if v == 1 {
		return "1 " + word
	}
	return num(v) + " " + word + "s"
}

func observed(what string, on time.Time) string {
	if on.IsZero() {
		return " (" + what + ", undated)"
	}
	return " (" + what + " of " + on.Format("2006-01-02") + ")"
}

func observedInline(on time.Time) string {
	if on.IsZero() {
		return ", weight undated"
	}
	return ", weight of " + on.Format("2006-01-02")
}

func joinSource(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// wholeNumber reads a FHIR integer sent as a JSON number: 1..max and integral.
func wholeNumber(v *float64, max int) (int, bool) {
	if v == nil || !positive(*v) || *v != math.Trunc(*v) || *v > float64(max) {
		return 0, false
	}
	return int(*v), true
}
