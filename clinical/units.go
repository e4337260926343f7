package clinical

import (
	"math"
	"strings"
	"time"
)

// Unit is what a dose figure counts.
type Unit string

const (
	// Mg: milligrams (g, mcg and tablets of a known strength are converted to it).
	Mg Unit = "mg"
	// Units: international or other units (insulin, heparin, ...), kept as units: whether a unit
	// is a fixed mass is the caller's knowledge, not the order's.
	Units Unit = "units"
)

// amountKind says what a dose unit is relative to: a mass, units, one unit of presentation
// (tablet, capsule, the product the code names), each optionally per kg or per m2.
type amountKind uint8

const (
	kindNone amountKind = iota
	kindMass
	kindUnits
	kindPresentation
)

type perKind uint8

const (
	perNone perKind = iota
	perKg
	perM2
)

// doseUnit is a parsed dose unit: mg (or units, or presentations) per one of the unit, and
// whether it is per kg of body weight or per m2 of body surface area.
type doseUnit struct {
	kind   amountKind
	factor float64 // mass: mg per unit; units and presentations: 1
	per    perKind
	label  string // canonical spelling for messages: "mg", "mcg/kg", "tablet", ...
}

// parseDoseUnit reads a Quantity's unit, trying the code first (UCUM when system says so) and
// then the human unit text, so `{"code":"385055001","unit":"tablet"}` (SNOMED tablet) and
// `{"code":"{pill}"}` both read.
func parseDoseUnit(q *Quantity) (doseUnit, bool) {
	if u, ok := parseUnitString(q.Code); ok {
		return u, true
	}
	return parseUnitString(q.Unit)
}

func parseUnitString(s string) (doseUnit, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return doseUnit{}, false
	}
	if u, ok := presentation(s); ok {
		return u, true
	}
	l := strings.ToLower(s)
	num, den, slash := strings.Cut(l, "/")
	u, ok := amount(strings.TrimSpace(num))
	if !ok {
		return doseUnit{}, false
	}
	if slash {
		switch strings.TrimSpace(den) {
		case "kg", "[kg]", "kilogram":
			u.per, u.label = perKg, u.label+"/kg"
		case "m2", "m^2", "m²", "[m2]", "m.m", "sq m", "m sq":
			u.per, u.label = perM2, u.label+"/m2"
		default:
			return doseUnit{}, false // mg/kg/d, mg/mL, ...: a rate or a concentration, not a dose
		}
	}
	return u, true
}

// amount reads a mass or a units unit, lower-cased.
func amount(l string) (doseUnit, bool) {
	switch l {
	case "mg", "milligram", "milligrams", "mg(s)":
		return doseUnit{kind: kindMass, factor: 1, label: "mg"}, true
	case "g", "gm", "gram", "grams":
		return doseUnit{kind: kindMass, factor: 1000, label: "g"}, true
	case "mcg", "ug", "µg", "μg", "microgram", "micrograms":
		return doseUnit{kind: kindMass, factor: 0.001, label: "mcg"}, true
	case "u", "[iu]", "iu", "[u]", "unit", "units", "unit(s)", "[arb'u]":
		// UCUM distinguishes [iU] (international unit) from [IU]; both lower-case to "[iu]".
		return doseUnit{kind: kindUnits, factor: 1, label: "units"}, true
	}
	return doseUnit{}, false
}

// presentation reads a unit of presentation: one tablet, capsule or "each" of the product the
// order's code names, priced as that product's strength. "1" (UCUM unity) is how several
// national profiles write "one of the ordered product".
func presentation(s string) (doseUnit, bool) {
	switch strings.ToLower(s) {
	case "{pill}", "{pills}", "pill", "pills",
		"{tbl}", "{tablet}", "{tablets}", "{tab}", "{tabs}", "tab", "tabs", "tablet", "tablets", "tablet(s)",
		"{capsule}", "{capsules}", "{cap}", "{caps}", "cap", "caps", "capsule", "capsules", "capsule(s)",
		"{each}", "ea", "each", "1",
		// SNOMED CT: 385055001 Tablet (dose form), 732936001 Tablet (unit of presentation),
		// 428673006 Tablet (unit of product usage), 732937005 Capsule (unit of presentation).
		"385055001", "732936001", "428673006", "732937005":
		return doseUnit{kind: kindPresentation, factor: 1, label: "tablet"}, true
	}
	return doseUnit{}, false
}

// Days in one UCUM time unit. A month is UCUM's mean Julian month (30.4375 d) and a year the
// Julian year (365.25 d), so "every 1 mo" and "for 12 mo" agree with "for 1 a"; a supply length
// is rounded to whole days afterwards (1 mo of supply is 30 days).
func unitDays(code string) (float64, bool) {
	switch strings.ToLower(strings.TrimSpace(code)) {
	case "s", "sec", "second", "seconds":
		return 1.0 / 86400, true
	case "min", "minute", "minutes":
		return 1.0 / 1440, true
	case "h", "hr", "hour", "hours":
		return 1.0 / 24, true
	case "d", "day", "days":
		return 1, true
	case "wk", "week", "weeks":
		return 7, true
	case "mo", "month", "months":
		return 30.4375, true
	case "a", "yr", "year", "years":
		return 365.25, true
	}
	return 0, false
}

// durationDays converts a Duration quantity to days.
func durationDays(q *Quantity) (float64, bool) {
	if q == nil || q.Value == nil || !positive(*q.Value) {
		return 0, false
	}
	d, ok := unitDays(q.Code)
	if !ok {
		d, ok = unitDays(q.Unit)
	}
	if !ok {
		return 0, false
	}
	days := *q.Value * d
	return days, positive(days)
}

// positive is a finite number above zero and below 1e9 (a guard against figures that would
// overflow later arithmetic; no dose, count or duration a pharmacist sees is that large).
func positive(v float64) bool {
	return v > 0 && v < 1e9 && !math.IsNaN(v)
}

// parseDate reads the date part of a FHIR date or dateTime.
func parseDate(s string) (time.Time, bool) {
	if len(s) < 10 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// parseInstant reads a FHIR date or dateTime as a point in time. A bare date is the start of the
// day; dayEnd is true then, so a Period's end date can be read as inclusive of that whole day.
func parseInstant(s string) (t time.Time, dateOnly, ok bool) {
	if len(s) == 10 {
		t, ok = parseDate(s)
		return t, true, ok
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, true
		}
	}
	return time.Time{}, false, false
}

// KgOf converts a body weight Observation's valueQuantity to kilograms: UCUM kg, g, [lb_av]
// and the text spellings EHRs send. False for any other unit or a non-positive value.
func KgOf(value float64, unit string) (float64, bool) {
	if !positive(value) {
		return 0, false
	}
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "kg", "kilogram", "kilograms":
		return value, true
	case "g", "gram", "grams":
		return value / 1000, true
	case "[lb_av]", "lb", "lbs", "pound", "pounds":
		return value * 0.45359237, true
	}
	return 0, false
}

// CmOf converts a body height Observation's valueQuantity to centimetres: UCUM cm, m, [in_i]
// and text spellings. False for any other unit or a non-positive value.
func CmOf(value float64, unit string) (float64, bool) {
	if !positive(value) {
		return 0, false
	}
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "cm", "centimeter", "centimetre", "centimeters", "centimetres":
		return value, true
	case "m", "meter", "metre", "meters", "metres":
		return value * 100, true
	case "mm":
		return value / 10, true
	case "[in_i]", "in", "inch", "inches":
		return value * 2.54, true
	}
	return 0, false
}
