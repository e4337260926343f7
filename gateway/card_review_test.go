package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"valuerx/demo"
	"valuerx/scoring"
)

// Card review (oncologist and clinical pharmacist, December 2026): requests built from the demo
// ones by editing their drafts.

// editDrafts decodes a demo request, lets edit change its draft orders (the resources of
// context.draftOrders) and re-encodes it with the env's FHIR server.
func (e *testEnv) editDrafts(name string, edit func(drafts []map[string]any) []map[string]any) []byte {
	e.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.demoRequest(name), &m); err != nil {
		e.t.Fatal(err)
	}
	bundle := m["context"].(map[string]any)["draftOrders"].(map[string]any)
	var drafts []map[string]any
	for _, en := range bundle["entry"].([]any) {
		drafts = append(drafts, en.(map[string]any)["resource"].(map[string]any))
	}
	var entries []any
	for _, d := range edit(drafts) {
		entries = append(entries, map[string]any{"resource": d})
	}
	bundle["entry"] = entries
	out, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// demoDraft is the first draft order of a demo request, as a fresh map.
func demoDraft(t *testing.T, name string) map[string]any {
	t.Helper()
	b, ok := demo.Request(name)
	if !ok {
		t.Fatalf("no demo request %q", name)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
}

// The ACO line of a card. A Medicare ACO is measured on its assigned beneficiaries' Parts A and B
// spending in the performance year against its benchmark (42 CFR 425.600-425.610); the line said
// "ACO: counts toward 2026 benchmark", which (1) reads as if the drug's cost added to the
// benchmark, (2) took the year from the price book, not the order: an order of 2027-01-05 priced
// on the stale Jan 2026 book said 2026, and the Lipitor card under the ACO (NADAC book dated
// 2025-12-24, order 2026-02-15) said 2025; and (3) appeared on a Part D (pharmacy benefit) card,
// whose cost is outside the ACO's expenditure (scoring shares nothing of it: its netImpact source
// says so).
func TestACOLineByBenefitAndOrderYear(t *testing.T) {
	e := newEnv(t)
	lipitorFor := func(patient string) func([]map[string]any) []map[string]any {
		return func([]map[string]any) []map[string]any {
			d := demoDraft(t, "commercial-ppo-lipitor-order-sign")
			d["id"] = "draft-lipitor-" + patient
			d["subject"] = map[string]any{"reference": "Patient/" + patient}
			return []map[string]any{d}
		}
	}
	cases := []struct {
		name, request string
		edit          func([]map[string]any) []map[string]any
		want          []string
	}{
		{"part B, order of Feb 2026", "aco-herceptin-order-select", nil,
			[]string{"- ACO: 2026 spend vs benchmark"}},
		{"part B, order of 2027 on the stale 2026 book", "aco-herceptin-order-select",
			func(ds []map[string]any) []map[string]any {
				for _, d := range ds {
					d["authoredOn"] = "2027-01-05"
				}
				return ds
			},
			[]string{"**Prices may be stale:**", "- ACO: 2027 spend vs benchmark"}},
		// Lipitor 40 mg daily x 90 under the ACO: NADAC 12.42604 x 90 = 1,118.34 allowed, 20 %
		// = 223.67 patient, 894.67 the Part D plan; generic 0.02453 x 90 = 2.21, 0.44, 1.77. The
		// payer is the Part D plan, not Medicare Part B, and the patient's share is no Part B
		// coinsurance.
		{"part D under the ACO", "aco-rituximab-order-sign", lipitorFor("pat-aco"),
			[]string{"- Part D: outside ACO spending", "| Plan | $895 | $1.77 |", "| Patient | $224 | $0.44 |",
				"Consider generic atorvastatin 40 mg, FDA AB-rated generic, same strength: patient cost $0.44 vs $224/90 days"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := e.demoRequest(c.request)
			if c.edit != nil {
				body = e.editDrafts(c.request, c.edit)
			}
			status, out, _ := e.post(serviceOf(c.request), body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, out)
			}
			r := decodeResponse(t, out)
			if len(r.Cards) != 1 {
				t.Fatalf("want one card, got %d", len(r.Cards))
			}
			text := r.Cards[0].Summary + "\n" + r.Cards[0].Detail
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("card lacks %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "counts toward") {
				t.Errorf("card says the spending counts toward the benchmark:\n%s", text)
			}
			if strings.Contains(c.name, "part D") && (strings.Contains(text, "benchmark") || strings.Contains(text, "| Medicare |") || strings.Contains(text, "coinsurance")) {
				t.Errorf("a Part D card speaks of the ACO benchmark, Medicare (Part B) or its coinsurance:\n%s", text)
			}
		})
	}
}

// The summary called the Medicare patient's figure "patient coinsurance", but under the default
// terms it holds the Part B deductible too (assumed unmet): Trazimera 17 x 344.61 = 5,858.37
// allowed, coinsurance 20 % = 1,171.67, yet the figure is 283 + 0.2 x (5,858.37 - 283) =
// 1,398.07 (226.40 more than the coinsurance); Herceptin 11,242.90 coinsurance vs 11,469.30.
// A pharmacist checking 20 % of the total cost finds the summary wrong. "Coinsurance" only when
// the figure is the coinsurance alone (deductible met, no supplemental coverage).
func TestPatientCoinsuranceExcludesTheDeductible(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ request, summary string }{
		{"aco-herceptin-order-select", "Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course"},
		{"medicare-ffs-herceptin-order-select", "Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course"},
		{"aco-rituximab-order-sign", "Consider Ruxience (rituximab-pvvr), FDA biosimilar, same dose: patient cost $1,076 vs $5,011/course"},
	} {
		_, out, _ := e.post(serviceOf(c.request), e.demoRequest(c.request))
		r := decodeResponse(t, out)
		if len(r.Cards) != 1 {
			t.Fatalf("%s: want one card, got %d", c.request, len(r.Cards))
		}
		if got := r.Cards[0].Summary; got != c.summary {
			t.Errorf("%s: summary\n got %q\nwant %q", c.request, got, c.summary)
		}
	}
	// Deductible met (deductibleMet: true): per course 17 x 661.35 = 11,242.90 and 17 x 68.92 =
	// 1,171.67 are the 20 % coinsurance alone, and the summary may say so.
	ordered := scoring.Option{Product: scoring.Product{Name: "Herceptin", MgPerUnit: 10},
		PerCourse: scoring.Figures{PatientOOP: 11242.90, PayerAllowed: 56214.50},
		Sources:   map[string]string{"patientOOP": "published: CMS ASP Jan 2026 coinsurance 20.000 % of allowed; before supplemental coverage (none on record)"}}
	best := ordered
	best.Product = scoring.Product{Name: "Trazimera", ProperName: "trastuzumab-qyyp", MgPerUnit: 10, Relationship: scoring.RelBiosimilar}
	best.PerCourse = scoring.Figures{PatientOOP: 1171.67, PayerAllowed: 5858.37}
	res := scoring.Result{Contract: scoring.Contract{Arrangement: scoring.FFS, Reimbursement: scoring.Reimbursement{Basis: scoring.BasisMedicareASP}},
		Group: scoring.Group{Benefit: scoring.MedicalBenefit}, Ordered: ordered, Best: &best}
	if got, want := cardSummary(res), "Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient coinsurance $1,172 vs $11,243/course"; got != want {
		t.Errorf("deductible met:\n got %q\nwant %q", got, want)
	}
}

// An order-sign with several drafts of one group (a loading and a maintenance dose of
// trastuzumab, or Herceptin beside Trazimera): each card was written as if its draft were alone,
// "New start (no therapy on record)", and the Herceptin card suggested switching to Trazimera
// beside a Trazimera draft (two trastuzumab orders after one click, nothing said). Each card now
// names the other drafts of its group; drafts of other groups are not named; the card cache keeps
// a lone draft's card apart. Every suggestion updates its own card's draft.
func TestCardsNameTheOtherDraftsOfTheirGroup(t *testing.T) {
	e := newEnv(t)
	herceptin := func(id string) map[string]any {
		d := demoDraft(t, "aco-herceptin-order-select")
		d["id"] = id
		return d
	}
	loading := func() map[string]any {
		d := herceptin("draft-herceptin-loading")
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "8 mg/kg IV once (loading)"
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 8, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
		di["timing"] = map[string]any{"repeat": map[string]any{"count": 1, "frequency": 1, "period": 3, "periodUnit": "wk"}}
		return d
	}
	trazimera := func() map[string]any {
		d := herceptin("draft-trazimera")
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "Q5116"}}, "text": "Trazimera"}
		return d
	}
	rituxan := func() map[string]any {
		d := demoDraft(t, "aco-rituximab-order-sign")
		return d
	}
	cases := []struct {
		name   string
		drafts func() []map[string]any
		// per card, in order: the draft its suggestions update and the "Also drafted" line ("" none)
		want [][2]string
	}{
		{"maintenance alone", func() []map[string]any { return []map[string]any{herceptin("draft-herceptin-pat-aco")} },
			[][2]string{{"draft-herceptin-pat-aco", ""}}},
		{"loading and maintenance", func() []map[string]any {
			return []map[string]any{herceptin("draft-herceptin-pat-aco"), loading()}
		}, [][2]string{{"draft-herceptin-pat-aco", "- Also drafted: Herceptin\n- Check for duplicate therapy\n"}, {"draft-herceptin-loading", "- Also drafted: Herceptin\n"}}},
		{"Herceptin beside Trazimera", func() []map[string]any {
			return []map[string]any{herceptin("draft-herceptin-pat-aco"), trazimera()}
		}, [][2]string{{"draft-herceptin-pat-aco", "- Also drafted: Trazimera\n- Check for duplicate therapy\n"}}},
		{"three trastuzumab drafts", func() []map[string]any {
			return []map[string]any{herceptin("draft-herceptin-pat-aco"), loading(), trazimera()}
		}, [][2]string{{"draft-herceptin-pat-aco", "- Also drafted: 2 more trastuzumab\n"}, {"draft-herceptin-loading", "- Also drafted: 2 more trastuzumab\n"}}},
		{"other groups are not named", func() []map[string]any {
			return []map[string]any{herceptin("draft-herceptin-pat-aco"), rituxan()}
		}, [][2]string{{"draft-herceptin-pat-aco", ""}, {"draft-rituxan-pat-aco", ""}}},
		{"maintenance alone again (card cache)", func() []map[string]any { return []map[string]any{herceptin("draft-herceptin-pat-aco")} },
			[][2]string{{"draft-herceptin-pat-aco", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// order-sign with the ACO patient's full prefetch (weight and height for mg/kg, m2)
			body := e.editDrafts("aco-rituximab-order-sign", func([]map[string]any) []map[string]any { return c.drafts() })
			status, out, _ := e.post(serviceOf("aco-rituximab-order-sign"), body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, out)
			}
			r := decodeResponse(t, out)
			if len(r.Cards) != len(c.want) {
				t.Fatalf("want %d cards, got %d", len(c.want), len(r.Cards))
			}
			for i, w := range c.want {
				card := r.Cards[i]
				for _, s := range card.Suggestions {
					for _, a := range s.Actions {
						var res struct{ ID string }
						_ = json.Unmarshal(a.Resource, &res)
						if res.ID != w[0] {
							t.Errorf("card %d suggestion %q updates %q, want %q", i+1, s.Label, res.ID, w[0])
						}
					}
				}
				switch {
				case w[1] == "" && strings.Contains(card.Detail, "Also drafted"):
					t.Errorf("card %d names another draft:\n%s", i+1, card.Detail)
				case w[1] != "" && !strings.Contains(card.Detail, w[1]):
					t.Errorf("card %d lacks %q:\n%s", i+1, w[1], card.Detail)
				}
			}
		})
	}
}

// The dose-rounding suggestion's label named the product without its FDA suffix, route or
// schedule ("Switch and round to 700 mg Ruxience (-0.2%, ...)") beside switch labels that carry
// them ("Switch to Ruxience (rituximab-pvvr) 375 mg/m2 IV weekly"), README: every suggestion is
// labelled with product, FDA suffix, dose, route and schedule. Hand-worked:
//   - Rituxan 375 mg/m2 x BSA 1.8708 = 701.56 mg; 700 mg (500 + 2 x 100) is -0.22 % -> -0.2 %;
//   - Avastin 15 mg/kg x 70 kg = 1,050 mg (3 x 100 + 2 x 400, 50 mg discarded); 1,000 mg
//     (2 x 400 + 2 x 100) is -4.76 % -> -4.8 %, inside the 10 % policy.
func TestRoundingLabelNamesSuffixRouteAndSchedule(t *testing.T) {
	e := newEnv(t)
	avastin := func([]map[string]any) []map[string]any {
		d := demoDraft(t, "aco-herceptin-order-select")
		d["id"] = "draft-avastin"
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J9035"}}, "text": "Avastin"}
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "15 mg/kg IV every 3 weeks"
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 15, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
		return []map[string]any{d}
	}
	for _, c := range []struct {
		name string
		edit func([]map[string]any) []map[string]any
		want string
	}{
		{"rituximab", nil, "Switch to Ruxience (rituximab-pvvr) 700 mg IV weekly, rounded -0.2% to whole vials"},
		{"bevacizumab", avastin, "Switch to Mvasi (bevacizumab-awwb) 1000 mg IV q3w, rounded -4.8% to whole vials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := e.demoRequest("aco-rituximab-order-sign")
			if c.edit != nil {
				body = e.editDrafts("aco-rituximab-order-sign", c.edit)
			}
			_, out, _ := e.post(serviceOf("aco-rituximab-order-sign"), body)
			r := decodeResponse(t, out)
			if len(r.Cards) != 1 {
				t.Fatalf("want one card, got %d", len(r.Cards))
			}
			sg := r.Cards[0].Suggestions
			if got := sg[len(sg)-1].Label; got != c.want {
				t.Errorf("rounding label\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// The SUPD card said the ACC/AHA 2018 guideline and the ADA recommend a moderate-intensity statin
// for adults with diabetes aged 40-75 "whatever the LDL". ACC/AHA 2018 (Grundy et al.,
// Circulation 2019;139:e1082, section 4.3) recommends it (I-A) for primary prevention in adults
// 40-75 with diabetes and LDL-C 70-189 mg/dL, without calculating the 10-year risk; below 70 mg/dL
// it is a clinician-patient decision (IIa-C). The card now says which LDL range.
func TestSUPDGuidelineStatement(t *testing.T) {
	cards, _ := demoAdherence(t, time.Date(2026, time.July, 1, 14, 0, 0, 0, time.UTC), "supd-metformin-order-sign")
	if len(cards) != 1 {
		t.Fatalf("want the SUPD card, got %d cards", len(cards))
	}
	d := cards[0].Detail
	if strings.Contains(d, "whatever the LDL") {
		t.Errorf("the card says the guidelines recommend a statin whatever the LDL:\n%s", d)
	}
	if want := "The ACC/AHA 2018 cholesterol guideline (LDL-C 70-189 mg/dL) and the ADA Standards of Care recommend at least a moderate-intensity statin for adults with diabetes aged 40-75, without calculating the 10-year risk."; !strings.Contains(d, want) {
		t.Errorf("card lacks %q:\n%s", want, d)
	}
}

// A dose above the label maximum but under twice it is priced as ordered (clinical: "the
// prescriber may have a reason"), and the card says so in its Order check, yet it was an "info"
// card like any other, its suggestions copying the dose into a one-click order: Herceptin
// 2000 mg q3w for the 70 kg FFS patient (28.6 mg/kg against the label's 8 mg/kg; the bound for
// an mg order is 1,200 mg, 8 mg/kg at 150 kg). A weight-based order between 8 and 16 mg/kg had
// no Order check at all (clinical checked only twice the per-kg maximum). The card is a warning;
// a dose within the label stays info. Figures: 2,000 mg is 200 units, 14 x 150 mg vials (210
// units, 10 discarded), 210 x 73.483 = 15,431.43 a dose, 262,334.31 a course of 17; 12 mg/kg x
// 70 kg = 840 mg, 6 x 150 mg vials (90 units, 6 discarded), 90 x 73.483 x 17 = 112,428.99.
func TestAboveLabelDoseCardIsAWarning(t *testing.T) {
	e := newEnv(t)
	withDose := func(v float64) func([]map[string]any) []map[string]any {
		return func(ds []map[string]any) []map[string]any {
			di := ds[0]["dosageInstruction"].([]any)[0].(map[string]any)
			di["doseAndRate"].([]any)[0].(map[string]any)["doseQuantity"].(map[string]any)["value"] = v
			return ds
		}
	}
	for _, c := range []struct {
		request         string
		dose            float64
		indicator       string
		comment, course string
	}{
		{"medicare-ffs-herceptin-order-select", 420, "info", "", ""},
		{"medicare-ffs-herceptin-order-select", 2000, "warning", "Trastuzumab (IV) dose 2000 mg is above the label maximum 1200 mg", "| Total cost | $262,334 |"},
		{"aco-herceptin-gastric-order-select", 6, "info", "", ""},
		{"aco-herceptin-gastric-order-select", 12, "warning", "Trastuzumab (IV) dose 12 mg/kg is above the label maximum 8 mg/kg", "| Total cost | $112,429 |"},
	} {
		_, out, _ := e.post(serviceOf(c.request), e.editDrafts(c.request, withDose(c.dose)))
		r := decodeResponse(t, out)
		if len(r.Cards) != 1 {
			t.Fatalf("%s %v: want one card, got %d", c.request, c.dose, len(r.Cards))
		}
		card := r.Cards[0]
		if card.Indicator != c.indicator {
			t.Errorf("%s %v: indicator %q, want %q", c.request, c.dose, card.Indicator, c.indicator)
		}
		if c.comment == "" && strings.Contains(card.Detail, "Order check") {
			t.Errorf("%s %v: an order check on a labelled dose:\n%s", c.request, c.dose, card.Detail)
		}
		if c.comment != "" && (!strings.Contains(card.Detail, c.comment) || !strings.Contains(card.Detail, c.course)) {
			t.Errorf("%s %v: detail lacks %q or %q:\n%s", c.request, c.dose, c.comment, c.course, card.Detail)
		}
	}
}

// The supplemental coverage's row and line carried its configured name, as long as it is:
// "| Medicaid, Qualified Medicare Beneficiary | $0.00 | $0.00 |" (40 characters of row label in a
// sidebar of about 30) and "Patient after Employer retiree plan (sample)". The card says the
// kind in a word (Medigap keeps its 16-character name); the comparison page keeps the full name.
// Figures, Medicare FFS Herceptin vs Trazimera per course: cost sharing 11,469.30 and 1,398.07
// (20 % + the 283 deductible); the retiree plan pays 80 % of it after the deductible:
// 0.8 x 11,186.30 = 8,949.04 and 0.8 x 1,115.07 = 892.06; QMB: Medicaid pays 0 (the sample
// state's rate), the patient owes 0.
func TestSecondaryCoverageFitsTheSidebar(t *testing.T) {
	e := newEnv(t)
	withSecondary := func(cov map[string]any) []byte {
		var m map[string]any
		if err := json.Unmarshal(e.demoRequest("medicare-ffs-herceptin-order-select"), &m); err != nil {
			t.Fatal(err)
		}
		bundle := m["prefetch"].(map[string]any)["coverage"].(map[string]any)
		entries := bundle["entry"].([]any)
		primary := entries[0].(map[string]any)["resource"].(map[string]any)
		cov["resourceType"], cov["status"], cov["order"] = "Coverage", "active", 2
		cov["beneficiary"], cov["period"] = primary["beneficiary"], primary["period"]
		bundle["entry"], bundle["total"] = append(entries, map[string]any{"resource": cov}), 2
		out, _ := json.Marshal(m)
		return out
	}
	for _, c := range []struct {
		name string
		cov  map[string]any
		want []string
	}{
		{"QMB", map[string]any{"id": "cov-qmb", "type": map[string]any{"coding": []any{map[string]any{"system": "https://nahdo.org/sopt", "code": "2"}}},
			"class": []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}}}, "value": "QMB"}}},
			[]string{"| Patient | $0.00 | $0.00 |", "| Medicaid | $0.00 | $0.00 |", "- QMB: no cost sharing billed"}},
		{"retiree", map[string]any{"id": "cov-retiree", "payor": []any{map[string]any{"identifier": map[string]any{"value": "valuerx-demo-retiree"}}}},
			[]string{"| Retiree plan | $8,949 | $892 |", "- Patient after Retiree plan"}},
		{"Medigap", map[string]any{"id": "cov-medigap", "type": map[string]any{"coding": []any{map[string]any{"system": "https://nahdo.org/sopt", "code": "523"}}}},
			[]string{"| Patient | $283 | $283 |", "| Medigap (Plan G) | $11,186 | $1,115 |", "- Patient after Medigap (Plan G)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, out, _ := e.post(serviceOf("medicare-ffs-herceptin-order-select"), withSecondary(c.cov))
			r := decodeResponse(t, out)
			if len(r.Cards) != 1 {
				t.Fatalf("want one card, got %d", len(r.Cards))
			}
			for _, w := range c.want {
				if !strings.Contains(r.Cards[0].Detail, w) {
					t.Errorf("card lacks %q:\n%s", w, r.Cards[0].Detail)
				}
			}
		})
	}
}

// The Lipitor 40 mg card said "Priced as the 10 mg tablet", which reads as if a 10 mg tablet (a
// quarter of the dose) were what was compared, beside "Same strength: 40 mg a day". The NADAC
// summary has only the 10 mg tablets' prices, used for the 40 mg tablet (flat pricing across
// strengths: Lipitor 12.42604 x 90 = 1,118.34; generic 0.02453 x 90 = 2.21); the line says so.
func TestFlatPriceLineNamesTheOrderedStrength(t *testing.T) {
	e := newEnv(t)
	_, out, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), e.demoRequest("commercial-ppo-lipitor-order-sign"))
	r := decodeResponse(t, out)
	if len(r.Cards) != 1 {
		t.Fatalf("want one card, got %d", len(r.Cards))
	}
	d := r.Cards[0].Detail
	for _, w := range []string{"- Same strength: 40 mg a day", "| Total cost | $1,118 | $2.21 |", "- 40 mg at the 10 mg tablet's price\n"} {
		if !strings.Contains(d, w) {
			t.Errorf("card lacks %q:\n%s", w, d)
		}
	}
	if strings.Contains(d, "Priced as the 10 mg tablet") {
		t.Errorf("the card reads as if a 10 mg tablet were priced:\n%s", d)
	}
}

// The demo's rituximab order was 375 mg/m2 weekly x 4 for diffuse large B-cell lymphoma
// (C83.38). Weekly x 4 is the Rituxan label's regimen for relapsed or refractory low-grade or
// follicular CD20+ NHL; DLBCL is dosed 375 mg/m2 on day 1 of each chemotherapy cycle, up to 8
// (the course and the year of therapy the card prices, 4, would be wrong for it). The demo
// order's diagnosis is follicular lymphoma (C82.x), whose regimen it is.
func TestDemoRituximabRegimenMatchesItsDiagnosis(t *testing.T) {
	d := demoDraft(t, "aco-rituximab-order-sign")
	rep := d["dosageInstruction"].([]any)[0].(map[string]any)["timing"].(map[string]any)["repeat"].(map[string]any)
	code := d["reasonCode"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
	weeklyX4 := rep["count"] == 4.0 && rep["period"] == 1.0 && rep["periodUnit"] == "wk"
	if weeklyX4 && !strings.HasPrefix(code, "C82") {
		t.Errorf("weekly x 4 rituximab ordered for %s: the label gives weekly x 4 for low-grade or follicular NHL (C82)", code)
	}
}

// Pegfilgrastim is sold as prefilled syringes (and Neulasta's on-body kit), never in vials, yet
// the card's row said "| Vials/dose | 1×6 | 1×6 |". The row names the items the dose uses:
// syringes for pegfilgrastim, vials for trastuzumab. Neulasta J2506 12 units (0.5 mg) a dose;
// 6 doses.
func TestItemsRowNamesTheDevice(t *testing.T) {
	e := newEnv(t)
	neulasta := func([]map[string]any) []map[string]any {
		d := demoDraft(t, "aco-herceptin-order-select")
		d["id"] = "draft-neulasta"
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J2506"}}, "text": "Neulasta"}
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "6 mg SC once per cycle"
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 6, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}}
		di["timing"] = map[string]any{"repeat": map[string]any{"count": 6, "frequency": 1, "period": 3, "periodUnit": "wk"}}
		di["route"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "34206005", "display": "Subcutaneous route"}}}
		return []map[string]any{d}
	}
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"trastuzumab", e.demoRequest("aco-herceptin-order-select"), "| Vials/dose | 3×150 | 1×420 |"},
		{"pegfilgrastim", e.editDrafts("aco-rituximab-order-sign", neulasta), "| Syringes/dose | 1×6 | 1×6 |"},
	} {
		path := serviceOf("aco-herceptin-order-select")
		if c.name == "pegfilgrastim" {
			path = serviceOf("aco-rituximab-order-sign")
		}
		_, out, _ := e.post(path, c.body)
		r := decodeResponse(t, out)
		if len(r.Cards) != 1 {
			t.Fatalf("%s: want one card, got %d", c.name, len(r.Cards))
		}
		if !strings.Contains(r.Cards[0].Detail, c.want) {
			t.Errorf("%s: card lacks %q:\n%s", c.name, c.want, r.Cards[0].Detail)
		}
	}
}
