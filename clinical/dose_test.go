package clinical

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Label bounds used by the tests, as the catalog would give them. Trastuzumab: weekly (2 mg/kg)
// is the most frequent labelled regimen, q3w the usual one; 8 mg/kg the largest labelled dose.
var (
	trastuzumab = Limits{Name: "IV trastuzumab", MaxMgPerKg: 8, MinIntervalDays: 7, LabelledIntervalDays: 21, MaxAdministrations: 18}
	filgrastim  = Limits{Name: "filgrastim", MaxMgPerKg: 0.01, MinIntervalDays: 1}
	rituximab   = Limits{Name: "IV rituximab", MaxMgPerM2: 500, MinIntervalDays: 7}
	atorva      = Limits{Name: "atorvastatin", MaxDailyMg: 80}
	pegfil      = Limits{Name: "pegfilgrastim", MaxDoseMg: 6, MinIntervalDays: 14}
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// want holds the figures a case checks; contains lists substrings expected in Implausible,
// Unknown, Caveats and Basis (an empty list there means "must be empty").
type want struct {
	unit            Unit
	dose            float64
	interval        float64
	perDay          float64
	administrations int
	total           float64
	days, fills     int
	phases          []Phase // Dose, Unit, IntervalDays, Administrations checked when non-nil
	doseImpl        bool
	aboveLabel      bool // DoseAboveLabel (checked in TestDoseAboveLabel's cases only)
	schedImpl       bool
	implausible     []string
	unknown         []string
	caveats         []string
	basis           string
	scorable        bool
}

type doseCase struct {
	name     string
	order    string // MedicationRequest JSON
	strength float64
	patient  Patient
	limits   Limits
	want     want
}

const ucum = `"system":"http://unitsofmeasure.org"`

var doseCases = []doseCase{
	{
		// Herceptin adjuvant: 8 mg/kg loading, then 6 mg/kg every 3 weeks. 70 kg:
		// 8 x 70 = 560 mg once; 6 x 70 = 420 mg x 16. Course 1 + 16 = 17 administrations,
		// 560 + 16 x 420 = 560 + 6720 = 7280 mg. Maintenance per day 420 / 21 = 20 mg.
		name: "trastuzumab loading then q3w from count",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-01-12","dosageInstruction":[
			{"sequence":1,"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":8,"unit":"mg/kg",` + ucum + `,"code":"mg/kg"}}]},
			{"sequence":2,"timing":{"repeat":{"count":16,"frequency":1,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]}]}`,
		patient: Patient{WeightKg: 70, WeightDate: day("2026-01-10")},
		limits:  trastuzumab,
		want: want{unit: Mg, dose: 420, interval: 21, perDay: 20, administrations: 17, total: 7280, fills: 1,
			phases: []Phase{{Dose: 560, Unit: Mg, Administrations: 1}, {Dose: 420, Unit: Mg, IntervalDays: 21, Administrations: 16}},
			basis:  "6 mg/kg x 70 kg (body weight of 2026-01-10)", scorable: true},
	},
	{
		// The same course, written with sequence reversed in the array and the maintenance phase
		// bounded by 48 weeks instead of a count: 48 x 7 = 336 days, 336 / 21 = 16 exactly, so
		// ceil gives 16 dose dates (days 0..315); floor+1 would claim 17. Loading phase: no
		// timing at all, so it is one administration. Total again 17 and 7280 mg.
		name: "loading dose without timing, maintenance boundsDuration exact multiple",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"sequence":2,"timing":{"repeat":{"boundsDuration":{"value":48,"unit":"weeks",` + ucum + `,"code":"wk"},"frequency":1,"period":21,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]},
			{"sequence":1,"doseAndRate":[{"doseQuantity":{"value":8,"code":"mg/kg"}}]}]}`,
		patient: Patient{WeightKg: 70, WeightDate: day("2026-01-10")},
		limits:  trastuzumab,
		want: want{unit: Mg, dose: 420, interval: 21, perDay: 20, administrations: 17, total: 7280, fills: 1,
			phases: []Phase{{Dose: 560, Unit: Mg, Administrations: 1}, {Dose: 420, Unit: Mg, IntervalDays: 21, Administrations: 16}},
			// authoredOn absent: the weight's age cannot be judged, and no caveat is invented.
			caveats: []string{}, scorable: true},
	},
	{
		// 52 weeks q3w with no loading dose: 364 / 21 = 17.33 -> 18 dose dates (days 0, 21, ...,
		// 357). 18 x 420 = 7560 mg.
		name: "boundsDuration 52 wk q3w",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-01-12","dosageInstruction":[
			{"timing":{"repeat":{"boundsDuration":{"value":52,"code":"wk"},"frequency":1,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":420,"code":"mg"}}]}]}`,
		limits: trastuzumab,
		want:   want{unit: Mg, dose: 420, interval: 21, perDay: 20, administrations: 18, total: 7560, fills: 1, basis: "420 mg", scorable: true},
	},
	{
		// Filgrastim 5 mcg/kg daily x 10, 60 kg: 5 x 60 = 300 mcg = 0.3 mg a day; 10 x 0.3 = 3 mg.
		// "ug/kg" is UCUM's spelling of mcg/kg.
		name: "filgrastim mcg/kg daily",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-02-01","dosageInstruction":[
			{"timing":{"repeat":{"count":10,"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":5,"unit":"mcg/kg",` + ucum + `,"code":"ug/kg"}}]}]}`,
		patient: Patient{WeightKg: 60, WeightDate: day("2026-01-30")},
		limits:  filgrastim,
		want: want{unit: Mg, dose: 0.3, interval: 1, perDay: 0.3, administrations: 10, total: 3, fills: 1,
			basis: "5 mcg/kg x 60 kg (body weight of 2026-01-30)", scorable: true},
	},
	{
		// Rituximab 375 mg/m2 weekly x 4; 170 cm, 70 kg: BSA = sqrt(170 x 70 / 3600)
		// = sqrt(3.30556) = 1.81812 m2; 375 x 1.81812 = 681.79 mg; 4 x 681.79 = 2727.18 mg.
		name: "rituximab mg/m2 weekly x 4",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-03-02","dosageInstruction":[
			{"timing":{"repeat":{"count":4,"period":1,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":375,"unit":"mg/m2","code":"mg/m2"}}]}]}`,
		patient: Patient{WeightKg: 70, WeightDate: day("2026-03-01"), HeightCm: 170, HeightDate: day("2025-09-01")},
		limits:  rituximab,
		want: want{unit: Mg, dose: 681.79, interval: 7, perDay: 97.4, administrations: 4, total: 2727.18, fills: 1,
			basis: "375 mg/m2 x BSA 1.82 m2 (Mosteller: 170 cm, 70 kg, weight of 2026-03-01)", scorable: true},
	},
	{
		// The CDS Hooks sandbox's own shape: 1 {pill} daily, 30 days' supply, a 40 mg tablet:
		// 1 x 40 = 40 mg per administration and per day; 30 administrations; 1200 mg.
		name: "sandbox {pill} tablet",
		order: `{"resourceType":"MedicationRequest","status":"draft","authoredOn":"2026-04-01","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1,` + ucum + `,"code":"{pill}"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"unit":"days",` + ucum + `,"code":"d"}}}`,
		strength: 40,
		limits:   atorva,
		want: want{unit: Mg, dose: 40, interval: 1, perDay: 40, administrations: 30, total: 1200, days: 30, fills: 1,
			basis: "1 tablet x 40 mg", scorable: true},
	},
	{
		// 2 tablets twice daily of a 20 mg tablet, unit text "tablet(s)" and no code: 2 x 20 = 40 mg
		// per administration, 80 mg a day (the label maximum, not above twice it); 30 days of
		// supply at 2 a day = 60 administrations; 60 x 40 = 2400 mg.
		name: "2 tablets twice daily",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":2,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":2,"unit":"tablet(s)"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"unit":"days"}}}`,
		strength: 20,
		limits:   atorva,
		want: want{unit: Mg, dose: 40, interval: 0.5, perDay: 80, administrations: 60, total: 2400, days: 30, fills: 1,
			basis: "2 tablets x 20 mg", scorable: true},
	},
	{
		// 1 g every 12 hours x 14: 1 g = 1000 mg; interval 12/24 = 0.5 d; 14 x 1000 = 14000 mg.
		name: "g to mg, every 12 h",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":14,"frequency":1,"period":12,"periodUnit":"h"}},"doseAndRate":[{"doseQuantity":{"value":1,"unit":"g",` + ucum + `,"code":"g"}}]}]}`,
		want: want{unit: Mg, dose: 1000, interval: 0.5, perDay: 2000, administrations: 14, total: 14000, fills: 1, basis: "1 g", scorable: true},
	},
	{
		// What the sandbox sends for IV trastuzumab: 1 vial (the code names the 420 mg vial)
		// daily from 2026-12-01 to 2026-12-30 (30 days inclusive) and 30 days' supply. Read as
		// written it is 30 administrations; the label's shortest interval is 7 days, so the
		// schedule is implausible and the regimen not scorable. The dose itself (420 mg) stands.
		name: "implausible daily IV trastuzumab",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-12-01","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","boundsPeriod":{"start":"2026-12-01","end":"2026-12-30"}}},"doseAndRate":[{"doseQuantity":{"value":1,` + ucum + `,"code":"{pill}"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"unit":"days",` + ucum + `,"code":"d"}}}`,
		strength: 420,
		limits:   trastuzumab,
		want: want{unit: Mg, dose: 420, interval: 1, perDay: 420, administrations: 30, total: 12600, days: 30, fills: 1,
			schedImpl:   true,
			implausible: []string{"IV trastuzumab every day: the label gives every 3 weeks", "IV trastuzumab course of 30 administrations: the label gives at most 18"}},
	},
	{
		// Pegfilgrastim is a fixed 6 mg dose: 13 mg is more than 2 x 6 = 12 mg.
		name: "dose more than twice the label maximum",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":13,"code":"mg"}}]}]}`,
		limits: pegfil,
		want: want{unit: Mg, dose: 13, administrations: 1, total: 13, fills: 1, doseImpl: true,
			implausible: []string{"pegfilgrastim dose 13 mg is more than twice the label maximum 6 mg"}},
	},
	{
		// Exactly twice the maximum (12 mg) is high but not implausible: the rule is "more than".
		name: "dose exactly twice the label maximum",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":12,"code":"mg"}}]}]}`,
		limits: pegfil,
		want:   want{unit: Mg, dose: 12, administrations: 1, total: 12, fills: 1, implausible: []string{}, scorable: true},
	},
	{
		// 20 mg/kg of trastuzumab is more than 2 x 8 mg/kg; 20 x 70 = 1400 mg.
		name: "mg/kg more than twice the label maximum",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":20,"code":"mg/kg"}}]}]}`,
		patient: Patient{WeightKg: 70},
		limits:  trastuzumab,
		want: want{unit: Mg, dose: 1400, administrations: 1, total: 1400, fills: 1, doseImpl: true,
			implausible: []string{"IV trastuzumab dose 20 mg/kg is more than twice the label maximum 8 mg/kg"},
			caveats:     []string{"the body weight used for the dose has no date"}},
	},
	{
		// Atorvastatin 2 x 100 mg?! written as 200 mg daily: 200 > 2 x 80 = 160 mg a day.
		name: "daily dose more than twice the label maximum",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation","code":"QD"}]}},"doseAndRate":[{"doseQuantity":{"value":200,"unit":"mg"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"code":"d"}}}`,
		limits: atorva,
		want: want{unit: Mg, dose: 200, interval: 1, perDay: 200, administrations: 30, total: 6000, days: 30, fills: 1, doseImpl: true,
			implausible: []string{"atorvastatin 200 mg a day is more than twice the label maximum 80 mg a day"}},
	},
	{
		// doseRange 1-2 tablets of 10 mg once daily for 30 days: priced at the high end,
		// 2 x 10 = 20 mg a day; 30 x 20 = 600 mg.
		name: "doseRange priced at high",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","boundsDuration":{"value":30,"code":"d"}}},
			 "doseAndRate":[{"doseRange":{"low":{"value":1,"code":"{tbl}"},"high":{"value":2,"code":"{tbl}"}}}]}]}`,
		strength: 10,
		limits:   atorva,
		want:     want{unit: Mg, dose: 20, interval: 1, perDay: 20, administrations: 30, total: 600, fills: 1, basis: "2 tablets x 10 mg", scorable: true},
	},
	{
		// A range with only a low bound ("at least 1 TAB"): the low is all there is.
		name: "doseRange with low only",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":30,"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseRange":{"low":{"value":1,"code":"TAB"}}}]}]}`,
		strength: 10,
		want:     want{unit: Mg, dose: 10, interval: 1, perDay: 10, administrations: 30, total: 300, fills: 1, scorable: true},
	},
	{
		// 90 tablets, 1 daily, 2 repeats: 90 / 1 = 90 days per fill; 3 fills; 270 administrations
		// of 40 mg = 10800 mg.
		name: "dispense quantity 90 tablets with 2 repeats",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1,"unit":"tablet","code":"732936001","system":"http://snomed.info/sct"}}]}],
			"dispenseRequest":{"quantity":{"value":90,"unit":"tablets","code":"{tablet}"},"numberOfRepeatsAllowed":2}}`,
		strength: 40,
		limits:   atorva,
		want:     want{unit: Mg, dose: 40, interval: 1, perDay: 40, administrations: 270, total: 10800, days: 90, fills: 3, scorable: true},
	},
	{
		// 90 tablets at 2 tablets twice daily = 4 a day: 90 / 4 = 22.5 -> 22 whole days; 22 days
		// at 2 administrations a day = 44 administrations of 2 x 20 = 40 mg = 1760 mg.
		name: "dispense quantity rounds days down",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"code":{"coding":[{"code":"BID"}]}},"doseAndRate":[{"doseQuantity":{"value":2,"code":"{tab}"}}]}],
			"dispenseRequest":{"quantity":{"value":90,"code":"{tab}"}}}`,
		strength: 20,
		want:     want{unit: Mg, dose: 40, interval: 0.5, perDay: 80, administrations: 44, total: 1760, days: 22, fills: 1, scorable: true},
	},
	{
		// expectedSupplyDuration x (1 + repeats): 30 days x 3 fills = 90 days = 90 administrations.
		name: "expectedSupplyDuration with repeats",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1,"code":"{pill}"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"code":"d"},"numberOfRepeatsAllowed":2}}`,
		strength: 40,
		want:     want{unit: Mg, dose: 40, interval: 1, perDay: 40, administrations: 90, total: 3600, days: 30, fills: 3, scorable: true},
	},
	{
		// mg/kg with no body weight: no dose, said so; the course is still read.
		name: "missing weight for mg/kg",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":17,"frequency":1,"period":21,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]}]}`,
		limits: trastuzumab,
		want: want{interval: 21, administrations: 17, fills: 1,
			unknown: []string{"no usable body weight for a mg/kg dose"}},
	},
	{
		// A weight in grams sent as kg (70000 "kg") is outside any human range: unknown.
		name: "implausible weight is no weight",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]}]}`,
		patient: Patient{WeightKg: 70000},
		want:    want{administrations: 1, fills: 1, unknown: []string{"no usable body weight for a mg/kg dose"}},
	},
	{
		name: "missing height for mg/m2",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":4,"period":1,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":375,"code":"mg/m2"}}]}]}`,
		patient: Patient{WeightKg: 70},
		want:    want{interval: 7, administrations: 4, fills: 1, unknown: []string{"no usable height for the body surface area of a mg/m2 dose"}},
	},
	{
		// Weight from 2025-06-01 for an order of 2026-01-12: 225 days old > 90. The dose stands
		// (6 x 70 = 420 mg) with a caveat.
		name: "stale body weight",
		order: `{"resourceType":"MedicationRequest","authoredOn":"2026-01-12T09:30:00Z","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":6,"code":"mg/kg"}}]}]}`,
		patient: Patient{WeightKg: 70, WeightDate: day("2025-06-01")},
		limits:  trastuzumab,
		want: want{unit: Mg, dose: 420, administrations: 1, total: 420, fills: 1, scorable: true,
			caveats: []string{"the body weight used for the dose is more than 90 days older than the order"}},
	},
	{
		// Epic-style: an ordered 6 mg/kg entry and a calculated 430 mg entry. The calculated dose
		// wins (the EHR used the weight the prescriber saw), so no weight is needed.
		name: "calculated mg preferred over ordered mg/kg",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":1}},"doseAndRate":[
			 {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/dose-rate-type","code":"ordered"}]},"doseQuantity":{"value":6,"code":"mg/kg"}},
			 {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/dose-rate-type","code":"calculated"}]},"doseQuantity":{"value":430,"code":"mg"}}]}]}`,
		limits: trastuzumab,
		want:   want{unit: Mg, dose: 430, administrations: 1, total: 430, fills: 1, unknown: []string{}, caveats: []string{}, scorable: true},
	},
	{
		// Insulin glargine 20 units daily for 30 days, spelled [IU]: kept as units (no mg).
		name: "units kept as units",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d","boundsDuration":{"value":30,"unit":"days"}}},"doseAndRate":[{"doseQuantity":{"value":20,"code":"[IU]"}}]}]}`,
		want: want{unit: Units, dose: 20, interval: 1, perDay: 20, administrations: 30, total: 600, fills: 1, basis: "20 units"},
	},
	{
		// Concurrent instructions of one sequence: 1 x 10 mg at 08:00 and 2 x 10 mg at 20:00 for
		// 30 days. Per day 10 + 20 = 30 mg in 2 administrations (mean 15 mg, every 0.5 d);
		// 30 + 30 = 60 administrations, 900 mg.
		name: "concurrent morning and evening doses",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"sequence":1,"timing":{"repeat":{"timeOfDay":["08:00:00"],"boundsDuration":{"value":30,"code":"d"}}},"doseAndRate":[{"doseQuantity":{"value":1,"code":"{tbl}"}}]},
			{"sequence":1,"timing":{"repeat":{"timeOfDay":["20:00:00"],"boundsDuration":{"value":30,"code":"d"}}},"doseAndRate":[{"doseQuantity":{"value":2,"code":"{tbl}"}}]}]}`,
		strength: 10,
		want: want{unit: Mg, dose: 15, interval: 0.5, perDay: 30, administrations: 60, total: 900, fills: 1, scorable: true,
			phases: []Phase{{Dose: 15, Unit: Mg, IntervalDays: 0.5, Administrations: 60}}},
	},
	{
		// count 10 and boundsDuration 5 days, daily: the schedule ends at whichever comes first, 5.
		name: "count and bounds: the smaller",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"count":10,"frequency":1,"period":1,"periodUnit":"d","boundsDuration":{"value":5,"code":"d"}}},"doseAndRate":[{"doseQuantity":{"value":300,"code":"ug"}}]}]}`,
		want: want{unit: Mg, dose: 0.3, interval: 1, perDay: 0.3, administrations: 5, total: 1.5, fills: 1, scorable: true},
	},
	{
		// Mon/Wed/Fri, no frequency: 3 a week, interval 7/3 = 2.33 d; bounds 4 weeks = 28 d:
		// ceil(28 / 2.333) = 12.
		name: "dayOfWeek",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"dayOfWeek":["mon","wed","fri"],"boundsDuration":{"value":4,"code":"wk"}}},"doseAndRate":[{"doseQuantity":{"value":5,"code":"mg"}}]}]}`,
		want: want{unit: Mg, dose: 5, interval: 7.0 / 3, perDay: 15.0 / 7, administrations: 12, total: 60, fills: 1, scorable: true},
	},
	{
		// periodUnit without period (invalid FHIR, sent in the wild): "2 per day"; 10 days of
		// 0.5-day intervals = 20 administrations of 5 mg.
		name: "periodUnit without period",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":2,"periodUnit":"d","boundsDuration":{"value":10,"code":"d"}}},"doseAndRate":[{"doseQuantity":{"value":5,"code":"mg"}}]}]}`,
		want: want{unit: Mg, dose: 5, interval: 0.5, perDay: 10, administrations: 20, total: 100, fills: 1, scorable: true},
	},
	{
		// An unreadable periodUnit is reported, not guessed.
		name: "unreadable periodUnit",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[
			{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"fortnight","count":3}},"doseAndRate":[{"doseQuantity":{"value":5,"code":"mg"}}]}]}`,
		want: want{unit: Mg, dose: 5, administrations: 3, total: 15, fills: 1, scorable: true,
			unknown: []string{"timing.repeat gives a frequency or period valuerx cannot read"}},
	},
	{
		// 1 tablet with no timing and 30 days' supply: how many tablets a day is not said, so
		// neither the daily dose nor the course is invented (the old reader assumed once daily).
		name: "supply without frequency",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":1,"code":"{pill}"}}]}],
			"dispenseRequest":{"expectedSupplyDuration":{"value":30,"code":"d"}}}`,
		strength: 40,
		want: want{unit: Mg, dose: 40, days: 30, fills: 1,
			unknown: []string{"dosage phase 1 states no frequency, so its supply gives no number of administrations"}},
	},
	{
		// No dosageInstruction at all: nothing to price, but the dispense figures are still read.
		name:  "no dosageInstruction",
		order: `{"resourceType":"MedicationRequest","dispenseRequest":{"expectedSupplyDuration":{"value":1,"code":"mo"},"numberOfRepeatsAllowed":5}}`,
		// 1 mo = 30.4375 d -> 30 days; 1 + 5 = 6 fills.
		want: want{days: 30, fills: 6, unknown: []string{"the order has no dosageInstruction"}},
	},
	{
		// Tablets with no known strength: no dose.
		name:  "tablets without strength",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":3}},"doseAndRate":[{"doseQuantity":{"value":1,"code":"{pill}"}}]}]}`,
		want:  want{administrations: 3, fills: 1, unknown: []string{"a dose in tablets for a product of no known strength"}},
	},
	{
		// A count of 16.5 is no count; the phase has no course.
		name:  "non-integral count",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":16.5,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":420,"code":"mg"}}]}]}`,
		want: want{unit: Mg, dose: 420, interval: 21, perDay: 20, fills: 1,
			unknown: []string{"timing.repeat.count is not a whole number", "dosage phase 1 states no count, duration or supply"}},
	},
	{
		// A rate or concentration is not a dose.
		name:  "unreadable unit",
		order: `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":1}},"doseAndRate":[{"doseQuantity":{"value":5,"code":"mg/kg/d"}}]}]}`,
		want:  want{administrations: 1, fills: 1, unknown: []string{"a unit valuerx does not read"}},
	},
}

func TestDose(t *testing.T) {
	for _, tc := range doseCases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := DecodeOrder([]byte(tc.order))
			if err != nil {
				t.Fatalf("DecodeOrder: %v", err)
			}
			r := Dose(o, tc.strength, tc.patient, tc.limits)
			w := tc.want
			if r.Unit != w.unit {
				t.Errorf("Unit = %q, want %q", r.Unit, w.unit)
			}
			near(t, "Dose", r.Dose, w.dose)
			near(t, "IntervalDays", r.IntervalDays, w.interval)
			near(t, "DosePerDay", r.DosePerDay, w.perDay)
			near(t, "TotalDose", r.TotalDose, w.total)
			if r.Administrations != w.administrations {
				t.Errorf("Administrations = %d, want %d", r.Administrations, w.administrations)
			}
			if r.DaysOfSupply != w.days || r.Fills != w.fills {
				t.Errorf("DaysOfSupply, Fills = %d, %d, want %d, %d", r.DaysOfSupply, r.Fills, w.days, w.fills)
			}
			if r.DoseImplausible != w.doseImpl || r.ScheduleImplausible != w.schedImpl {
				t.Errorf("DoseImplausible, ScheduleImplausible = %v, %v, want %v, %v", r.DoseImplausible, r.ScheduleImplausible, w.doseImpl, w.schedImpl)
			}
			if r.Scorable() != w.scorable {
				t.Errorf("Scorable() = %v, want %v (%+v)", r.Scorable(), w.scorable, r)
			}
			if w.phases != nil {
				if len(r.Phases) != len(w.phases) {
					t.Fatalf("%d phases, want %d: %+v", len(r.Phases), len(w.phases), r.Phases)
				}
				for i, p := range w.phases {
					g := r.Phases[i]
					if g.Unit != p.Unit || g.Administrations != p.Administrations || math.Abs(g.Dose-p.Dose) > 0.005 || math.Abs(g.IntervalDays-p.IntervalDays) > 1e-9 {
						t.Errorf("phase %d = %+v, want dose %v %s every %v d x %d", i, g, p.Dose, p.Unit, p.IntervalDays, p.Administrations)
					}
				}
			}
			contains(t, "Implausible", r.Implausible, w.implausible)
			contains(t, "Unknown", r.Unknown, w.unknown)
			contains(t, "Caveats", r.Caveats, w.caveats)
			if w.basis != "" && r.Basis != w.basis {
				t.Errorf("Basis = %q, want %q", r.Basis, w.basis)
			}
			// Findings are PHI-free: no weights, heights or dates of the patient.
			for _, s := range append(append(append([]string{}, r.Implausible...), r.Unknown...), r.Caveats...) {
				for _, phi := range []string{" kg", " cm", "2025-", "2026-"} {
					if strings.Contains(s, phi) {
						t.Errorf("finding %q quotes patient data (%q)", s, phi)
					}
				}
			}
		})
	}
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.005 {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// contains checks that every wanted substring occurs in some finding, and that findings are
// empty when want is an empty (non-nil) list. A nil want is not checked.
func contains(t *testing.T, what string, got, want []string) {
	t.Helper()
	if want == nil {
		return
	}
	if len(want) == 0 && len(got) > 0 {
		t.Errorf("%s = %q, want none", what, got)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("%s = %q, want one containing %q", what, got, w)
		}
	}
}

// Every tablet spelling issue 10 lists, and the other units, read as the kind they are.
// A weight- or BSA-based dose above the label's per-kg or per-m2 maximum but under twice it is
// priced as ordered and, like an mg dose above the label maximum, says so (it said nothing: 12
// mg/kg of trastuzumab q3w, 1.5 x the label's 8 mg/kg, got a card with no order check). Hand-
// worked: 12 mg/kg x 70 kg = 840 mg (under the 1,200 mg bound of an mg order, so that check was
// silent too); 8 mg/kg x 70 = 560 mg is the label's largest; rituximab 600 mg/m2 x 1.8708 m2
// (Mosteller, 180 cm, 70 kg) = 1,122.50 mg against 500 mg/m2.
func TestDoseAboveLabel(t *testing.T) {
	mgkg := func(v float64) string {
		return `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":17,"frequency":1,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":` +
			strconv.FormatFloat(v, 'f', -1, 64) + `,"code":"mg/kg"}}]}]}`
	}
	mgm2 := `{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":4,"frequency":1,"period":1,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":600,"code":"mg/m2"}}]}]}`
	cases := []struct {
		name, order string
		limits      Limits
		dose        float64
		above       bool
		caveat      string
	}{
		{"8 mg/kg: the label maximum", mgkg(8), trastuzumab, 560, false, ""},
		{"12 mg/kg: above it, under twice", mgkg(12), trastuzumab, 840, true, "IV trastuzumab dose 12 mg/kg is above the label maximum 8 mg/kg"},
		{"600 mg/m2: above 500, under twice", mgm2, rituximab, 1122.50, true, "IV rituximab dose 600 mg/m2 is above the label maximum 500 mg/m2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := DecodeOrder([]byte(c.order))
			if err != nil {
				t.Fatal(err)
			}
			r := Dose(o, 0, Patient{WeightKg: 70, HeightCm: 180, WeightDate: day("2026-01-20")}, c.limits)
			near(t, "Dose", r.Dose, c.dose)
			if r.DoseImplausible || !r.Scorable() {
				t.Errorf("DoseImplausible %v, Scorable %v: want priced as ordered", r.DoseImplausible, r.Scorable())
			}
			if r.DoseAboveLabel != c.above {
				t.Errorf("DoseAboveLabel = %v, want %v", r.DoseAboveLabel, c.above)
			}
			if c.caveat == "" {
				contains(t, "Caveats", r.Caveats, []string{})
			} else {
				contains(t, "Caveats", r.Caveats, []string{c.caveat})
			}
		})
	}
}

func TestUnitSpellings(t *testing.T) {
	cases := []struct {
		s      string
		kind   amountKind
		factor float64
		per    perKind
	}{
		{"{pill}", kindPresentation, 1, perNone}, {"{tbl}", kindPresentation, 1, perNone}, {"{tablet}", kindPresentation, 1, perNone},
		{"{tab}", kindPresentation, 1, perNone}, {"TAB", kindPresentation, 1, perNone}, {"tablet(s)", kindPresentation, 1, perNone},
		{"Tablets", kindPresentation, 1, perNone}, {"{capsule}", kindPresentation, 1, perNone}, {"CAP", kindPresentation, 1, perNone},
		{"mg", kindMass, 1, perNone}, {"MG", kindMass, 1, perNone}, {"g", kindMass, 1000, perNone},
		{"mcg", kindMass, 0.001, perNone}, {"ug", kindMass, 0.001, perNone}, {"µg", kindMass, 0.001, perNone},
		{"[iU]", kindUnits, 1, perNone}, {"[IU]", kindUnits, 1, perNone}, {"U", kindUnits, 1, perNone}, {"units", kindUnits, 1, perNone},
		{"mg/kg", kindMass, 1, perKg}, {"ug/kg", kindMass, 0.001, perKg}, {"mcg/kg", kindMass, 0.001, perKg},
		{"mg/m2", kindMass, 1, perM2}, {"mg/m^2", kindMass, 1, perM2}, {"[iU]/kg", kindUnits, 1, perKg},
	}
	for _, c := range cases {
		u, ok := parseUnitString(c.s)
		if !ok || u.kind != c.kind || u.factor != c.factor || u.per != c.per {
			t.Errorf("parseUnitString(%q) = %+v, %v; want kind %d factor %v per %d", c.s, u, ok, c.kind, c.factor, c.per)
		}
	}
	for _, s := range []string{"", "mL", "mg/mL", "mg/kg/d", "puff", "{dose}", "kg"} {
		if u, ok := parseUnitString(s); ok {
			t.Errorf("parseUnitString(%q) = %+v, want not a dose unit", s, u)
		}
	}
}

// The rounding rule of a bounded course, by hand: dose dates in [0, duration).
func TestAdministrationsIn(t *testing.T) {
	cases := []struct {
		days, interval float64
		want           int
	}{
		{30, 1, 30},   // daily for 30 days: days 0..29 (floor+1 would say 31)
		{28, 7, 4},    // weekly for 4 weeks: days 0, 7, 14, 21
		{364, 21, 18}, // 52 weeks q3w: days 0, 21, ..., 357
		{336, 21, 16}, // 48 weeks q3w: exactly 16 intervals, days 0..315
		{357, 21, 17}, // 51 weeks q3w: days 0..336
		{1, 21, 1},    // a window shorter than one interval still holds the first dose
		{30, 0.5, 60}, // twice daily for 30 days
	}
	for _, c := range cases {
		if got := administrationsIn(c.days, c.interval); got != c.want {
			t.Errorf("administrationsIn(%v, %v) = %d, want %d", c.days, c.interval, got, c.want)
		}
	}
}

func TestTimingCodes(t *testing.T) {
	cases := map[string]float64{"QD": 1, "bid": 0.5, "TID": 1.0 / 3, "QID": 0.25, "QOD": 2, "Q8H": 8.0 / 24, "Q12H": 0.5, "WK": 7}
	for code, want := range cases {
		if got, ok := codeInterval(code); !ok || math.Abs(got-want) > 1e-12 {
			t.Errorf("codeInterval(%q) = %v, %v; want %v", code, got, ok, want)
		}
	}
	for _, code := range []string{"", "PRN", "Q0H", "QXH", "Q123H"} {
		if got, ok := codeInterval(code); ok {
			t.Errorf("codeInterval(%q) = %v, want unreadable", code, got)
		}
	}
}

func TestPeriodDays(t *testing.T) {
	cases := []struct {
		start, end, authored string
		want                 float64
	}{
		{"2026-12-01", "2026-12-30", "", 30}, // date-only end counts its whole day
		{"2026-12-01T14:08:00Z", "2026-12-06T14:07:59Z", "", 5 - 1.0/86400},
		{"", "2026-01-31", "2026-01-02", 30},                         // no start: authoredOn
		{"2026-01-02T10:00:00+01:00", "2026-01-03T09:00:00Z", "", 1}, // offsets respected
	}
	for _, c := range cases {
		got, ok := periodDays(&Period{Start: c.start, End: c.end}, c.authored)
		if !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("periodDays(%q, %q) = %v, %v; want %v", c.start, c.end, got, ok, c.want)
		}
	}
	if _, ok := periodDays(&Period{Start: "2026-02-01", End: "2026-01-01"}, ""); ok {
		t.Error("an end before the start is not a period")
	}
}

func TestKgAndCm(t *testing.T) {
	if kg, ok := KgOf(154.32, "[lb_av]"); !ok || math.Abs(kg-70.0) > 0.01 { // 154.32 x 0.45359237 = 69.998
		t.Errorf("KgOf(154.32 lb) = %v, %v", kg, ok)
	}
	if kg, ok := KgOf(70000, "g"); !ok || kg != 70 {
		t.Errorf("KgOf(70000 g) = %v, %v", kg, ok)
	}
	if cm, ok := CmOf(1.7, "m"); !ok || math.Abs(cm-170) > 1e-9 {
		t.Errorf("CmOf(1.7 m) = %v, %v", cm, ok)
	}
	if cm, ok := CmOf(67, "[in_i]"); !ok || math.Abs(cm-170.18) > 1e-9 { // 67 x 2.54
		t.Errorf("CmOf(67 in) = %v, %v", cm, ok)
	}
	if _, ok := KgOf(70, "stone"); ok {
		t.Error("KgOf accepted an unknown unit")
	}
	if _, ok := CmOf(-1, "cm"); ok {
		t.Error("CmOf accepted a negative height")
	}
}

func TestDecodeOrderErrors(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{`not json`, "decode MedicationRequest"},
		{`{"resourceType":"Patient","name":[{"family":"Doe"}]}`, "not a MedicationRequest"},
		{`{"resourceType":"MedicationRequest","dosageInstruction":5}`, `member "dosageInstruction" holds a JSON number`},
		{`{"resourceType":"MedicationRequest","dosageInstruction":[{"timing":{"repeat":{"count":"Jane Doe"}}}]}`, `holds a JSON string`},
		{`[]`, "decode MedicationRequest"},
	}
	for _, c := range cases {
		_, err := DecodeOrder([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeOrder(%s) error = %v, want one containing %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "Jane") {
			t.Errorf("error %q quotes the resource", err)
		}
	}
}

// Order embeds in a caller's own struct so one Unmarshal serves both.
func TestOrderEmbeds(t *testing.T) {
	o, err := DecodeOrder([]byte(`{"resourceType":"MedicationRequest","authoredOn":"2026-05-04T08:00:00-05:00",
		"reasonCode":[{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C50.911"}]}],
		"reasonReference":[{"reference":"Condition/7"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := o.Authored(); !ok || !d.Equal(day("2026-05-04")) {
		t.Errorf("Authored() = %v, %v", d, ok)
	}
	if len(o.ReasonCode) != 1 || o.ReasonCode[0].Coding[0].Code != "C50.911" || len(o.ReasonReference) != 1 || o.ReasonReference[0].Reference != "Condition/7" {
		t.Errorf("reasons = %+v, %+v", o.ReasonCode, o.ReasonReference)
	}
}

// Needs asks for Observations exactly when Dose would use them.
func TestNeeds(t *testing.T) {
	cases := []struct {
		name           string
		strength       float64
		weight, height bool
	}{
		{"trastuzumab loading then q3w from count", 0, true, false}, // mg/kg
		{"rituximab mg/m2 weekly x 4", 0, true, true},               // mg/m2: BSA needs both
		{"filgrastim mcg/kg daily", 0, true, false},                 // mcg/kg
		{"sandbox {pill} tablet", 40, false, false},                 // tablets x strength
		{"sandbox {pill} tablet", 0, false, false},                  // no strength: no dose, and no weight would help
		{"boundsDuration 52 wk q3w", 0, false, false},               // 420 mg outright
		// The Epic shape: an ordered mg/kg entry beside a calculated mg entry needs no weight.
		{"calculated mg preferred over ordered mg/kg", 0, false, false},
	}
	for _, c := range cases {
		o, err := DecodeOrder([]byte(caseNamed(t, c.name)))
		if err != nil {
			t.Fatal(err)
		}
		if w, h := Needs(&o, c.strength); w != c.weight || h != c.height {
			t.Errorf("Needs(%s, strength %v) = %v, %v; want %v, %v", c.name, c.strength, w, h, c.weight, c.height)
		}
	}
}

func caseNamed(t *testing.T, name string) string {
	t.Helper()
	for _, c := range doseCases {
		if c.name == name {
			return c.order
		}
	}
	t.Fatalf("no dose case %q", name)
	return ""
}

// CourseDays is the retail course: administrations x interval.
func TestCourseDays(t *testing.T) {
	cases := []struct {
		name     string
		strength float64
		want     int
	}{
		{"sandbox {pill} tablet", 40, 30},                        // 30 x 1 d
		{"2 tablets twice daily", 20, 30},                        // 60 x 0.5 d
		{"dispense quantity 90 tablets with 2 repeats", 40, 270}, // 270 x 1 d
		{"dispense quantity rounds days down", 20, 22},           // 44 x 0.5 d
		{"trastuzumab loading then q3w from count", 0, 336},      // loading adds 0; 16 x 21 d
		{"supply without frequency", 40, 0},                      // no course
	}
	for _, c := range cases {
		o, err := DecodeOrder([]byte(caseNamed(t, c.name)))
		if err != nil {
			t.Fatal(err)
		}
		r := Dose(o, c.strength, Patient{WeightKg: 70}, Limits{})
		if got := r.CourseDays(); got != c.want {
			t.Errorf("%s: CourseDays() = %d, want %d", c.name, got, c.want)
		}
	}
}

// An order written in mg is checked against the label's mg/kg maximum when a recent body weight
// is on record (card review, 3 December 2026): trastuzumab's label maximum is 8 mg/kg (the
// loading dose), and an mg order is otherwise bounded only by 1,200 mg (8 mg/kg at 150 kg).
// Worked: 1,100 mg for 50 kg is 22 mg/kg; 420 mg for 50 kg 8.4 mg/kg; 420 mg for 70 kg 6 mg/kg;
// 560 mg for 70 kg exactly 8 mg/kg (at the maximum, not above).
func TestMgDoseAgainstTheLabelPerKg(t *testing.T) {
	mg := func(v float64) string {
		return `{"resourceType":"MedicationRequest","authoredOn":"2026-02-15","dosageInstruction":[{"timing":{"repeat":{"count":17,"frequency":1,"period":3,"periodUnit":"wk"}},"doseAndRate":[{"doseQuantity":{"value":` +
			strconv.FormatFloat(v, 'f', -1, 64) + `,"code":"mg"}}]}]}`
	}
	const caveat = "IV trastuzumab dose %s mg is above the label maximum 8 mg/kg for the body weight on record"
	for _, c := range []struct {
		name   string
		order  string
		p      Patient
		caveat string // "" = none
	}{
		{"1,100 mg for 50 kg: 22 mg/kg", mg(1100), Patient{WeightKg: 50, WeightDate: day("2026-02-01")}, fmt.Sprintf(caveat, "1100")},
		{"420 mg for 50 kg: 8.4 mg/kg", mg(420), Patient{WeightKg: 50, WeightDate: day("2026-02-01")}, fmt.Sprintf(caveat, "420")},
		{"420 mg for 70 kg: 6 mg/kg", mg(420), Patient{WeightKg: 70, WeightDate: day("2026-02-01")}, ""},
		{"560 mg for 70 kg: 8 mg/kg, the maximum", mg(560), Patient{WeightKg: 70, WeightDate: day("2026-02-01")}, ""},
		{"no weight on record", mg(1100), Patient{}, ""},
		{"a weight without a date", mg(1100), Patient{WeightKg: 50}, ""},
		{"a weight older than a weight-based dose accepts", mg(1100), Patient{WeightKg: 50, WeightDate: day("2025-06-01")}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := DecodeOrder([]byte(c.order))
			if err != nil {
				t.Fatal(err)
			}
			r := Dose(o, 0, c.p, trastuzumab)
			if r.DoseImplausible || !r.Scorable() {
				t.Errorf("DoseImplausible %v, Scorable %v: want priced as ordered", r.DoseImplausible, r.Scorable())
			}
			if r.DoseAboveLabel != (c.caveat != "") {
				t.Errorf("DoseAboveLabel = %v, want %v (caveats %q)", r.DoseAboveLabel, c.caveat != "", r.Caveats)
			}
			if c.caveat == "" {
				contains(t, "Caveats", r.Caveats, []string{})
				return
			}
			contains(t, "Caveats", r.Caveats, []string{c.caveat})
			for _, cv := range r.Caveats {
				if strings.Contains(cv, "50") || strings.Contains(cv, "22") || strings.Contains(cv, "8.4") {
					t.Errorf("caveat %q names the weight or the dose per kg (PHI-free sentences only)", cv)
				}
			}
		})
	}
}
