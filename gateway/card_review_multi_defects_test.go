package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"valuerx/cdshooks"
)

// Review of the once-per-signing rules (deductible, maximum out-of-pocket, loading dose),
// 6 December 2026 (clinical pharmacist). Figures by hand from the CMS Q1 2026 payment limits
// (USD per 10 mg: Herceptin 73.483; rituximab as in TestPartBDeductibleOncePerSigning).

// econFigT is a card's ordered course with the supplemental coverage's share.
type econFigT struct {
	Allowed, Patient, Secondary, Uncollected float64
}

func orderedCourse(t *testing.T, c cdshooks.Card) econFigT {
	t.Helper()
	var m struct {
		E struct {
			Ordered struct {
				PerCourse econFigT `json:"perCourse"`
			} `json:"ordered"`
		} `json:"valuerx-economics"`
	}
	if err := json.Unmarshal(c.Extension, &m); err != nil {
		t.Fatal(err)
	}
	return m.E.Ordered.PerCourse
}

// maSelect posts the MA order-select demo (prefetch: coverage, weight) with drafts, every one of
// them selected, and extra Coverages after the primary.
func maSelect(t *testing.T, e *testEnv, extra []map[string]any, drafts ...map[string]any) []cdshooks.Card {
	t.Helper()
	const name = "ma-capitation-herceptin-order-select"
	var m map[string]any
	if err := json.Unmarshal(e.editDrafts(name, func([]map[string]any) []map[string]any { return drafts }), &m); err != nil {
		t.Fatal(err)
	}
	var sel []any
	for _, d := range drafts {
		sel = append(sel, "MedicationRequest/"+d["id"].(string))
	}
	m["context"].(map[string]any)["selections"] = sel
	bundle := m["prefetch"].(map[string]any)["coverage"].(map[string]any)
	entries := bundle["entry"].([]any)
	primary := entries[0].(map[string]any)["resource"].(map[string]any)
	for i, cov := range extra {
		cov["resourceType"], cov["status"], cov["order"] = "Coverage", "active", 2+i
		cov["beneficiary"], cov["period"] = primary["beneficiary"], primary["period"]
		entries = append(entries, map[string]any{"resource": cov})
	}
	bundle["entry"], bundle["total"] = entries, len(entries)
	body, _ := json.Marshal(m)
	status, out, _ := e.post(serviceOf(name), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	return decodeResponse(t, out).Cards
}

// maHerceptin is the MA demo's Herceptin draft at mg, count administrations q3w.
func maHerceptin(t *testing.T, id string, mg float64, count int) map[string]any {
	d := demoDraft(t, "ma-capitation-herceptin-order-select")
	d["id"] = id
	di := d["dosageInstruction"].([]any)[0].(map[string]any)
	di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}}
	di["timing"] = map[string]any{"repeat": map[string]any{"count": count, "frequency": 1, "period": 3, "periodUnit": "wk"}}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) <= 0.011 }

// The maximum out-of-pocket counts the plan's cost sharing, whoever pays it: a supplemental
// plan's share (and Medicaid's, or what a QMB cannot be billed) counts toward the MA maximum as
// the patient's own does (42 CFR 422.100(f)(4)). The hook counted only what the patient owes
// after it (Ordered.PerCourse.PatientOOP). MA capitation with the sample retiree plan (80 % of
// the cost sharing): the loading dose 560 mg (60 x 73.483 = 4,408.98), cost sharing 881.80,
// the retiree plan 705.44, the patient 176.36; the maintenance 420 mg x 16 (52,907.76), cost
// sharing 10,581.55 capped at 9,250 - 881.80 = 8,368.20: the retiree plan 6,694.56, the patient
// 1,673.64. The hook left 9,250 - 176.36 = 9,073.64 of the maximum: 7,258.91 and 1,814.73, the
// organisation's collected cost sharing 705.44 too high.
func TestMOOPCountsCostSharingPaidBySecondary(t *testing.T) {
	e := newEnv(t)
	retiree := map[string]any{"id": "cov-retiree", "payor": []any{map[string]any{"identifier": map[string]any{"value": "valuerx-demo-retiree"}}}}
	cards := maSelect(t, e, []map[string]any{retiree}, maHerceptin(t, "load", 560, 1), maHerceptin(t, "maint", 420, 16))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	load, maint := orderedCourse(t, cards[0]), orderedCourse(t, cards[1])
	if !near(load.Patient, 176.36) || !near(load.Secondary, 705.44) {
		t.Errorf("loading: patient %.2f retiree %.2f, want 176.36 and 705.44", load.Patient, load.Secondary)
	}
	if !near(maint.Patient, 1673.64) || !near(maint.Secondary, 6694.56) {
		t.Errorf("maintenance: patient %.2f retiree %.2f, want 1,673.64 and 6,694.56 (cap 9,250 - 881.80 of cost sharing)", maint.Patient, maint.Secondary)
	}
	if s := load.Patient + load.Secondary + maint.Patient + maint.Secondary; s > 9250.01 {
		t.Errorf("the signing's cost sharing %.2f exceeds the 9,250 maximum", s)
	}
}

// The MA maximum out-of-pocket is Parts A and B cost sharing: a Part D (pharmacy-benefit)
// copay counts toward Part D's own out-of-pocket threshold, never the MA plan's maximum. A
// Lipitor draft (90 days, 20 % of 1,118.34 = 223.67) signed before Herceptin 420 mg x 17
// (56,214.50, 20 % = 11,242.90) left the Herceptin card 9,250 - 223.67 = 9,026.33 of the
// maximum; Herceptin's cost sharing is capped at the whole 9,250.
func TestPartDCopayDoesNotUseTheMAMaximum(t *testing.T) {
	e := newEnv(t)
	lipitor := demoDraft(t, "commercial-ppo-lipitor-order-sign")
	lipitor["id"] = "lipitor"
	lipitor["subject"] = map[string]any{"reference": "Patient/pat-ma"}
	cards := maSelect(t, e, nil, lipitor, maHerceptin(t, "herceptin", 420, 17))
	var herc *cdshooks.Card
	for i := range cards {
		if strings.Contains(cards[i].Summary, "Herceptin") || strings.Contains(cards[i].Detail, "Herceptin") {
			herc = &cards[i]
		}
	}
	if herc == nil {
		t.Fatalf("no Herceptin card among %d", len(cards))
	}
	if p := orderedCourse(t, *herc).Patient; !near(p, 9250) || strings.Contains(herc.Detail, "MOOP partly used by other draft") {
		t.Errorf("Herceptin patient %.2f, want 9,250.00 (a Part D copay does not count toward the MA maximum):\n%s", p, herc.Detail)
	}
}

// The drafts of a signing come in the EHR's order. With the maintenance listed before the
// loading dose, the maintenance took the whole 9,250 and the loading dose card read "Patient $0"
// for Herceptin and Trazimera alike: the loading dose is given first, the patient pays 881.80
// for it (as when the loading dose is listed first: TestMaximumOutOfPocketOncePerSigning), and
// the switch of the loading dose saves the patient 881.80 - Trazimera's share, not nothing.
func TestMOOPFollowsTheOrderOfAdministrationNotOfTheBundle(t *testing.T) {
	e := newEnv(t)
	cards := maSelect(t, e, nil, maHerceptin(t, "maint", 420, 16), maHerceptin(t, "load", 560, 1))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	byID := map[string]econFigT{}
	for _, c := range cards {
		var res struct{ ID string }
		_ = json.Unmarshal(c.Suggestions[0].Actions[0].Resource, &res)
		byID[res.ID] = orderedCourse(t, c)
	}
	if !near(byID["load"].Patient, 881.80) || !near(byID["maint"].Patient, 8368.20) {
		t.Errorf("loading %.2f (want 881.80), maintenance %.2f (want 8,368.20)", byID["load"].Patient, byID["maint"].Patient)
	}
}

// A course longer than a plan year bears a deductible in each year it covers (figures: years =
// ceil(course / year of therapy)); "counted on another draft" is the first year's only. ACO,
// Rituxan (4 doses, bears the 2026 283.00) and Herceptin 420 mg q3w x 34, two years of therapy:
// 34 x 3,306.735 = 112,428.99, the patient 283 + 0.2 x (112,428.99 - 283) = 22,712.20 for the
// second year's deductible; DeductibleCounted took both years' as met: 0.2 x 112,428.99 =
// 22,485.80.
func TestDeductibleCountedIsTheFirstPlanYearsOnly(t *testing.T) {
	e := newEnv(t)
	herc := trastuzumabDraft(t, "herceptin-2y", 6, "6 mg/kg IV q3w", map[string]any{"count": 34, "frequency": 1, "period": 3, "periodUnit": "wk"})
	cards := signing(t, e, demoDraft(t, "aco-rituximab-order-sign"), herc)
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	h := orderedCourse(t, cards[1])
	if !near(h.Allowed, 112428.99) {
		t.Fatalf("Herceptin x 34 allowed %.2f, want 112,428.99", h.Allowed)
	}
	if !near(h.Patient, 22712.20) {
		t.Errorf("Herceptin x 34 beside Rituxan: patient %.2f, want 22,712.20 (the second plan year's deductible)", h.Patient)
	}
}

// A first draft whose course is below the deductible meets only that much of it: ACO, Zarxio
// 300 mcg x 2 (2 x 300 x 0.349 = 209.40, all of it deductible) then Rituxan: 283 - 209.40 =
// 73.60 of the deductible is still unmet, the patient 73.60 + 0.2 x (23,924.80 - 73.60) =
// 4,843.84. DeductibleCounted is all or nothing: 0.2 x 23,924.80 = 4,784.96.
func TestPartlyMetDeductibleLeavesTheRest(t *testing.T) {
	e := newEnv(t)
	z := demoDraft(t, "aco-herceptin-order-select")
	z["id"] = "zarxio"
	z["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "Q5101"}}}
	z["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "D70.1"}}}}
	di := z["dosageInstruction"].([]any)[0].(map[string]any)
	di["text"] = "300 mcg SC daily x 2"
	di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 300, "unit": "mcg", "system": "http://unitsofmeasure.org", "code": "ug"}}}
	di["timing"] = map[string]any{"repeat": map[string]any{"count": 2, "frequency": 1, "period": 1, "periodUnit": "d"}}
	di["route"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "34206005"}}}
	cards := signing(t, e, z, demoDraft(t, "aco-rituximab-order-sign"))
	var rit *cdshooks.Card
	for i := range cards {
		if strings.Contains(cards[i].Detail, "Rituxan") {
			rit = &cards[i]
		}
	}
	if rit == nil {
		t.Fatalf("no Rituxan card among %d", len(cards))
	}
	if p := orderedCourse(t, *rit).Patient; !near(p, 4843.84) {
		t.Errorf("Rituxan beside Zarxio 209.40: patient %.2f, want 4,843.84 (73.60 of the deductible unmet)", p)
	}
	if !strings.Contains(rit.Detail, "- Deductible partly met by other draft\n") || strings.Contains(rit.Detail, "Assumes Part B deductible unmet") {
		t.Errorf("Rituxan card's deductible line:\n%s", rit.Detail)
	}
}

// The year-of-therapy figures (what the tracking books a year) cap at what the other drafts'
// years leave of the maximum, not what their courses leave: MA, Herceptin 420 mg x 8 (course
// 8 x 3,306.735 = 26,453.88, cost sharing 5,290.78; its year of 17 doses 56,214.50, 20 % =
// 11,242.90, capped at 9,250) then Rituxan. The Rituxan year was capped at 9,250 - 5,290.78 =
// 3,959.22, so the signing's years booked 9,250 + 3,959.22 = 13,209.22 of patient cost in one
// plan year, above the 9,250 maximum; Herceptin's year leaves nothing of it.
func TestYearFiguresCapAtWhatTheOtherDraftsYearsLeave(t *testing.T) {
	e := newEnv(t)
	rit := demoDraft(t, "aco-rituximab-order-sign")
	rit["id"] = "rituxan"
	rit["subject"] = map[string]any{"reference": "Patient/pat-ma"}
	cards := maSelect(t, e, nil, maHerceptin(t, "herceptin", 420, 8), rit)
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	h, r := econOf(t, cards[0]), econOf(t, cards[1])
	if !near(h.Ordered.PerCourse.Patient, 5290.78) || !near(h.Ordered.PerYear.Patient, 9250) {
		t.Fatalf("Herceptin x 8: course patient %.2f, year %.2f; want 5,290.78 and 9,250", h.Ordered.PerCourse.Patient, h.Ordered.PerYear.Patient)
	}
	if s := h.Ordered.PerYear.Patient + r.Ordered.PerYear.Patient; s > 9250.01 {
		t.Errorf("the signing's years book %.2f of patient cost (Herceptin %.2f + Rituxan %.2f), above the 9,250 maximum",
			s, h.Ordered.PerYear.Patient, r.Ordered.PerYear.Patient)
	}
}

// A maintenance order that states no count took the group's default course, 17, beside its
// loading dose: 1 + 17 = 18 trastuzumab doses, where the label's year (adjuvant, 52 weeks) is 17
// with the loading dose; and its course, longer than its 16-dose year, bore a second plan year's
// deductible. The default course beside a loading dose is the group's less it: 16 x 420 mg =
// 52,907.76, the patient (deductible on the loading dose) 0.2 x 52,907.76 = 10,581.55.
func TestDefaultCourseBesideLoadingDoseCountsIt(t *testing.T) {
	e := newEnv(t)
	cards := signing(t, e,
		trastuzumabDraft(t, "draft-loading", 8, "8 mg/kg IV once (loading)", map[string]any{"count": 1}),
		trastuzumabDraft(t, "draft-maintenance", 6, "6 mg/kg IV q3w", map[string]any{"frequency": 1, "period": 3, "periodUnit": "wk"}))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	m := econOf(t, cards[1])
	f := orderedCourse(t, cards[1])
	if n := econOf(t, cards[0]).AdministrationsPerCourse + m.AdministrationsPerCourse; n != 17 {
		t.Errorf("the signing's courses hold %d trastuzumab doses, want 17", n)
	}
	if m.AdministrationsPerCourse != 16 || !near(f.Allowed, 52907.76) || !near(f.Patient, 10581.55) {
		t.Errorf("maintenance: %d a course, allowed %.2f, patient %.2f; want 16, 52,907.76, 10,581.55", m.AdministrationsPerCourse, f.Allowed, f.Patient)
	}
}
