package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// The CDS Hooks sandbox can only order "1 {pill} daily for 30 days" (issue 10, defects 2 and 3).
// For IV trastuzumab that is no dose and an implausible schedule: valuerx prices the group's
// labelled course (420 mg, 17 administrations every 21 days) and says why, instead of pricing 30
// daily infusions. Hand-worked: ACO, Feb 2026, per dose Herceptin 45 units x 73.4831 = 3,306.74
// (CMS J9355 limit 73.4831 per 10 mg, 3 units wasted of three 150 mg vials) vs Trazimera 42 x
// 8.205 = 344.61; per course x 17 the allowed amount falls by 17 x (3,306.74 - 344.61) =
// 50,356.21, of which Medicare pays 80 % less 2 % sequestration: 50,356.21 x 0.8 x 0.98 =
// $39,479 (issue 12's model). Thirty daily infusions would have claimed 30/17 of that.
func TestSandboxDailyIVTrastuzumabUsesLabelledCourse(t *testing.T) {
	e := newEnv(t)
	body := editRequest(t, e.demoRequest("aco-herceptin-order-select"), func(m map[string]any) {
		draftOf(m)["dosageInstruction"] = []any{map[string]any{
			"text": "1 daily for 30 days",
			"timing": map[string]any{"repeat": map[string]any{"frequency": 1, "period": 1, "periodUnit": "d",
				"boundsPeriod": map[string]any{"start": "2026-02-15", "end": "2026-03-16"}}},
			"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": 1, "system": "http://unitsofmeasure.org", "code": "{pill}"}}},
		}}
		draftOf(m)["dispenseRequest"] = map[string]any{"numberOfRepeatsAllowed": 1, "quantity": map[string]any{"value": 30, "system": "http://unitsofmeasure.org", "code": "{pill}"},
			"expectedSupplyDuration": map[string]any{"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}
	})
	status, resp, _ := e.post(serviceOf("aco-herceptin-order-select"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	r := decodeResponse(t, resp)
	if len(r.Cards) != 1 {
		t.Fatalf("want one card, got %d", len(r.Cards))
	}
	c := r.Cards[0]
	for _, want := range []string{"420 mg, the group's default dose", "the labelled course: the order's schedule is not one the label allows", "**Order check:**"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, c.Detail)
		}
	}
	if !strings.HasPrefix(c.Summary, "Schedule not on the label") {
		t.Errorf("summary %q: want the schedule warning", c.Summary)
	}
	// Pharmacist review H2: no one-click suggestion may copy the daily schedule into the order.
	if len(c.Suggestions) != 0 || c.Indicator != "warning" {
		t.Errorf("implausible schedule: %d suggestions, indicator %s", len(c.Suggestions), c.Indicator)
	}
	// Per course of 17: Medicare pays (allowed - coinsurance) x 0.98 sequestration. Herceptin
	// (56,214.50 - 11,469.30) x 0.98 = 43,850.30 (the coinsurance is 20 % of allowed plus 80 % of
	// the 283.00 Part B deductible: 11,242.90 + 226.40); Trazimera (5,858.37 - 1,398.07) x 0.98 =
	// 4,371.09. $39,479 apart, as in the header; thirty infusions would be 30/17 of each.
	if !strings.Contains(c.Detail, "| Medicare | $43,850 | $4,371 |") {
		t.Errorf("detail: want the 17-administration Medicare payments $43,850 vs $4,371 ($39,479 apart):\n%s", c.Detail)
	}
}

// A "{pill}" tablet dose is a tablet (issue 10, defect 2): 1 {pill} daily of Lipitor 40 mg is
// 40 mg a day, not "the group's default dose: 10 mg".
func TestPillUnitIsATablet(t *testing.T) {
	e := newEnv(t)
	body := editRequest(t, e.demoRequest("commercial-ppo-lipitor-order-sign"), func(m map[string]any) {
		di := draftOf(m)["dosageInstruction"].([]any)[0].(map[string]any)
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 1, "system": "http://unitsofmeasure.org", "code": "{pill}"}}}
	})
	status, resp, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	r := decodeResponse(t, resp)
	if len(r.Cards) != 1 || !strings.Contains(r.Cards[0].Detail, "Same strength: 40 mg a day") || !strings.Contains(r.Cards[0].Detail, "| per 90d |") {
		t.Fatalf("want 40 mg a day from 1 {pill} of 40 mg: %+v", r.Cards)
	}
}

// Doses the label does not allow are not priced (pharmacist review H1, H3): one card says so,
// with no suggestion and no figure. Pegfilgrastim is a fixed 6 mg dose, so 7 mg is already
// implausible; trastuzumab and filgrastim ordered in mg are bounded by their mg/kg maximum at
// 150 kg (1,200 mg; 1.8 mg), doubled: 4,200 mg and 4.8 mg are out.
func TestImplausibleDoseGetsNoFigures(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, hcpcs string
		mg          float64
		count       int
		period      float64
		unit        string
	}{
		{"pegfilgrastim 13 mg", "J2506", 13, 6, 3, "wk"},
		{"pegfilgrastim 7 mg", "J2506", 7, 6, 3, "wk"},
		{"trastuzumab 4200 mg", "J9355", 4200, 17, 3, "wk"},
		{"filgrastim 4.8 mg daily", "J1442", 4.8, 10, 1, "d"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := editRequest(t, e.demoRequest("aco-herceptin-order-select"), func(m map[string]any) {
				d := draftOf(m)
				d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": c.hcpcs}}}
				d["dosageInstruction"] = []any{map[string]any{"timing": map[string]any{"repeat": map[string]any{"count": c.count, "frequency": 1, "period": c.period, "periodUnit": c.unit}},
					"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": c.mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}}}}
			})
			status, resp, _ := e.post(serviceOf("aco-herceptin-order-select"), body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, resp)
			}
			r := decodeResponse(t, resp)
			if len(r.Cards) != 1 {
				t.Fatalf("want one card, got %d", len(r.Cards))
			}
			card := r.Cards[0]
			if len(card.Suggestions) != 0 || strings.Contains(card.Detail, "$") || !strings.Contains(card.Summary, "did not price") {
				t.Fatalf("implausible dose card: %q\n%s", card.Summary, card.Detail)
			}
		})
	}
}

// Above the label maximum but not beyond twice it (atorvastatin 120 mg a day; the label's
// maximum is 80): priced, and the card says so.
func TestDoseAboveLabelMaximumIsSaid(t *testing.T) {
	e := newEnv(t)
	body := editRequest(t, e.demoRequest("commercial-ppo-lipitor-order-sign"), func(m map[string]any) {
		di := draftOf(m)["dosageInstruction"].([]any)[0].(map[string]any)
		di["timing"] = map[string]any{"repeat": map[string]any{"frequency": 3, "period": 1, "periodUnit": "d"}}
	})
	status, resp, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	r := decodeResponse(t, resp)
	if len(r.Cards) != 1 || !strings.Contains(r.Cards[0].Detail, "120 mg a day is above the label maximum 80 mg a day") {
		t.Fatalf("want the caveat on the card: %+v", r.Cards)
	}
}

// Dose rounding (issue 10 item 6), the demo's rituximab order: 375 mg/m2 with BSA sqrt(180 cm x
// 70 kg / 3600) = 1.8708 m2 is 701.56 mg, which needs 71 billing units (J9312, 10 mg) and so
// 500 + 3 x 100 mg vials (80 units, 9 discarded). 700 mg (500 + 2 x 100) is -0.22 %, inside the
// policy's 10 % window: a separate suggestion offers it, stating the change, with the dose in mg
// and the recommended product; the other suggestions keep 701.56 mg.
func TestDoseRoundingIsASeparateSuggestion(t *testing.T) {
	e := newEnv(t)
	status, resp, _ := e.post(serviceOf("aco-rituximab-order-sign"), e.demoRequest("aco-rituximab-order-sign"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	sgs := suggestionsOf(t, resp)
	if len(sgs) < 2 {
		t.Fatalf("want the switch and the rounding suggestions, got %q", labels(sgs))
	}
	last := sgs[len(sgs)-1]
	if last.label != "Switch to Ruxience (rituximab-pvvr) 700 mg IV weekly, rounded -0.2% to whole vials" ||
		last.dose["value"] != 700.0 || last.dose["code"] != "mg" || !strings.Contains(last.dosageText, "from 701.56 mg") {
		t.Fatalf("rounding suggestion %+v", last)
	}
	for _, s := range sgs[:len(sgs)-1] {
		if s.dose["value"] != 375.0 || s.dose["code"] != "mg/m2" {
			t.Fatalf("a plain switch changed the dose: %+v", s)
		}
	}
	// Policy off: no rounding suggestion.
	e2 := newEnv(t, withPolicy(t, "groups:\n  rituximab: {midCourse: never}\n"))
	_, resp, _ = e2.post(serviceOf("aco-rituximab-order-sign"), e2.demoRequest("aco-rituximab-order-sign"))
	if strings.Contains(labels(suggestionsOf(t, resp)), "round") {
		t.Fatal("rounding offered with the policy off")
	}
}

// Epoetin alfa is billed per 1,000 units (J0885): the cards are written in mg, so an epoetin
// order gets no card rather than "40000 mg" (catalog helper's finding).
func TestUnitDosedProductsGetNoCard(t *testing.T) {
	e := newEnv(t)
	body := editRequest(t, e.demoRequest("aco-herceptin-order-select"), func(m map[string]any) {
		d := draftOf(m)
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J0885"}}}
		d["dosageInstruction"] = []any{map[string]any{"timing": map[string]any{"repeat": map[string]any{"count": 12, "frequency": 1, "period": 1, "periodUnit": "wk"}},
			"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": 40000, "unit": "units", "system": "http://unitsofmeasure.org", "code": "[iU]"}}}}}
	})
	status, resp, _ := e.post(serviceOf("aco-herceptin-order-select"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	if r := decodeResponse(t, resp); len(r.Cards) != 0 {
		t.Fatalf("a unit-dosed order got a card: %q", r.Cards[0].Summary)
	}
}
