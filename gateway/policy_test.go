package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// policyAnswer posts a demo request (after edit, when given) and returns the suggestions of its
// card and the card's detail ("" and nil for no card).
func policyAnswer(t *testing.T, e *testEnv, name string, edit func(map[string]any)) ([]suggested, string) {
	t.Helper()
	body := e.demoRequest(name)
	if edit != nil {
		body = editRequest(t, body, edit)
	}
	status, resp, _ := e.post(serviceOf(name), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	r := decodeResponse(t, resp)
	if len(r.Cards) == 0 {
		return nil, ""
	}
	return suggestionsOf(t, resp), r.Cards[0].Detail
}

func labels(sgs []suggested) string {
	var out []string
	for _, s := range sgs {
		out = append(out, s.label)
	}
	return strings.Join(out, " | ")
}

// Options off the site's formulary are never suggested, however much they save: with Herceptin
// and Kanjinti on formulary, the ACO order that otherwise recommends Trazimera gets Kanjinti.
func TestOffFormularyOptionsAreNeverSuggested(t *testing.T) {
	e := newEnv(t, withPolicy(t, `
formularies:
  - site: ""
    products:
      trastuzumab: [herceptin, kanjinti]
`))
	sgs, detail := policyAnswer(t, e, "aco-herceptin-order-select", nil)
	if len(sgs) != 1 || !strings.HasPrefix(sgs[0].label, "Switch to Kanjinti (trastuzumab-anns) 420 mg IV") {
		t.Fatalf("want only Kanjinti, got %q", labels(sgs))
	}
	if !strings.Contains(detail, "Trazimera (off formulary here)") {
		t.Fatalf("detail does not say why Trazimera is not suggested:\n%s", detail)
	}
}

// A site's own formulary (the encounter's Location) replaces the organisation's: the north
// infusion centre of config/formulary-restricted.yaml does not stock Trazimera.
func TestSiteFormularyFromEncounterLocation(t *testing.T) {
	e := newEnv(t, withPolicy(t, `
formularies:
  - site: ""
    products:
      trastuzumab: [herceptin, trazimera, kanjinti]
  - site: Location/infusion-north
    products:
      trastuzumab: [herceptin, kanjinti]
`))
	sgs, _ := policyAnswer(t, e, "aco-herceptin-order-select", nil)
	if len(sgs) == 0 || !strings.Contains(sgs[0].label, "Trazimera") {
		t.Fatalf("organisation formulary: want Trazimera first, got %q", labels(sgs))
	}
	sgs, _ = policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
		m["prefetch"].(map[string]any)["encounter"] = map[string]any{"resourceType": "Encounter", "id": "enc-1", "status": "in-progress",
			"location": []any{map[string]any{"location": map[string]any{"reference": "Location/infusion-north"}}}}
	})
	if len(sgs) != 1 || !strings.Contains(sgs[0].label, "Kanjinti") {
		t.Fatalf("north infusion centre: want only Kanjinti, got %q", labels(sgs))
	}
}

// An order for a product off formulary gets the formulary alternative even when the money rules
// alone would give no card (commercial FFS without payer preferences: a switch cuts the margin).
func TestOffFormularyOrderGetsFormularyAlternative(t *testing.T) {
	e := newEnv(t, withPolicy(t, `
formularies:
  - site: ""
    products:
      trastuzumab: [ogivri]
`))
	sgs, detail := policyAnswer(t, e, "commercial-ppo-herceptin-order-select", nil)
	if len(sgs) != 1 || !strings.Contains(sgs[0].label, "Ogivri") {
		t.Fatalf("want the formulary product Ogivri, got %q", labels(sgs))
	}
	if !strings.Contains(detail, "Herceptin: not on formulary here") {
		t.Fatalf("detail does not say the order is off formulary:\n%s", detail)
	}
}

// Indications: Herzuma's label has no gastric indication (scoring/data/indications.csv, Herzuma
// PI 5/2019). With Herceptin and Herzuma on formulary, a breast-cancer order is offered Herzuma; a
// gastric-cancer order (reasonCode ICD-10-CM C16.9) is not, and gets no card.
func TestOptionUnlabelledForIndicationIsNotSuggested(t *testing.T) {
	e := newEnv(t, withPolicy(t, `
formularies:
  - site: ""
    products:
      trastuzumab: [herceptin, herzuma]
`))
	sgs, detail := policyAnswer(t, e, "aco-herceptin-order-select", nil) // problem list: C50.911
	if len(sgs) != 1 || !strings.Contains(sgs[0].label, "Herzuma") {
		t.Fatalf("breast cancer: want Herzuma, got %q", labels(sgs))
	}
	if !strings.Contains(detail, "Labelled for: HER2+ breast cancer") {
		t.Fatalf("detail does not name the indication checked:\n%s", detail)
	}
	gastric := func(m map[string]any) {
		draftOf(m)["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C16.9", "display": "Malignant neoplasm of stomach, unspecified"}}}}
	}
	if sgs, detail := policyAnswer(t, e, "aco-herceptin-order-select", gastric); sgs != nil {
		t.Fatalf("gastric cancer: want no card, got %q\n%s", labels(sgs), detail)
	}
	// With the whole catalog on formulary the gastric order still gets a card, without Herzuma.
	e2 := newEnv(t)
	sgs, detail = policyAnswer(t, e2, "aco-herceptin-order-select", gastric)
	if len(sgs) == 0 || strings.Contains(labels(sgs), "Herzuma") || !strings.Contains(detail, "Herzuma (not labelled") {
		t.Fatalf("gastric cancer, full formulary: %q\n%s", labels(sgs), detail)
	}
}

// No diagnosis in the order and an empty problem list: the card says the indication is unknown.
func TestUnknownIndicationIsSaid(t *testing.T) {
	e := newEnv(t)
	_, detail := policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
		m["prefetch"].(map[string]any)["conditions"] = nil
	})
	if !strings.Contains(detail, "Indication unknown: check label") {
		t.Fatalf("detail does not say the indication is unknown:\n%s", detail)
	}
}

// A patient mid-course on Herceptin (an active MedicationRequest in the history) under each
// mid-course policy: never gives no card; next-cycle a card whose suggestions say "from the next
// administration" and whose detail asks for the acknowledgement; any a card without it.
func TestMidCoursePolicies(t *testing.T) {
	cases := []struct {
		policy   string
		wantCard bool
		wantAck  bool
	}{
		{"never", false, false},
		{"next-cycle", true, true},
		{"any", true, false},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			e := newEnv(t, withPolicy(t, "groups:\n  trastuzumab: {midCourse: "+c.policy+"}\n"))
			sgs, detail := policyAnswer(t, e, "aco-midcourse-herceptin-order-select", nil)
			if (sgs != nil) != c.wantCard {
				t.Fatalf("card %v, want %v: %q", sgs != nil, c.wantCard, labels(sgs))
			}
			if !c.wantCard {
				return
			}
			ack := strings.Contains(detail, "On therapy: switch next cycle only")
			if ack != c.wantAck || strings.HasSuffix(sgs[0].label, "from the next administration") != c.wantAck {
				t.Fatalf("acknowledgement %v in detail, label %q; want %v", ack, sgs[0].label, c.wantAck)
			}
		})
	}
	// The same patient as a new start (history removed) gets a card under "never".
	e := newEnv(t, withPolicy(t, "groups:\n  trastuzumab: {midCourse: never}\n"))
	sgs, _ := policyAnswer(t, e, "aco-midcourse-herceptin-order-select", func(m map[string]any) {
		m["prefetch"].(map[string]any)["medications"] = nil
	})
	if sgs == nil {
		t.Fatal("new start under never: want a card")
	}
}

// Pharmacist review C2: the indication comes from what the table can match. A child (born 2017)
// with GPA: the order's reasonCode is SNOMED CT only (the table matches ICD-10-CM), so the problem
// list's M31.31 decides, and Truxima and Ruxience, not labelled for paediatric GPA/MPA, are not
// suggested; Riabni is. The same with the reason coded in ICD-10 (WHO). A problem list with no
// labelled use of rituximab (only I10) leaves the indication unknown, and the card says so.
func TestIndicationFromWhatTheTableMatches(t *testing.T) {
	e := newEnv(t)
	child := func(reason map[string]any, problems []any) func(map[string]any) {
		return func(m map[string]any) {
			pf := m["prefetch"].(map[string]any)
			pf["patient"].(map[string]any)["birthDate"] = "2017-03-01"
			d := draftOf(m)
			d["reasonCode"] = []any{map[string]any{"coding": []any{reason}}}
			if problems != nil {
				pf["conditions"] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": problems}
			}
		}
	}
	cond := func(code string) []any {
		return []any{map[string]any{"resource": map[string]any{"resourceType": "Condition", "id": "c1",
			"clinicalStatus": map[string]any{"coding": []any{map[string]any{"code": "active"}}},
			"code":           map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}}}}}}
	}
	snomedGPA := map[string]any{"system": "http://snomed.info/sct", "code": "195353004"}
	for _, c := range []struct {
		name   string
		edit   func(map[string]any)
		wantIn []string
		notIn  []string
		note   string
	}{
		{"snomed reason, ICD problem list", child(snomedGPA, cond("M31.31")), []string{"Riabni"}, []string{"Truxima", "Ruxience"}, "Pediatric GPA/MPA"},
		{"ICD-10 WHO reason", child(map[string]any{"system": "http://hl7.org/fhir/sid/icd-10", "code": "M31.3"}, cond("I10")), []string{"Riabni"}, []string{"Truxima", "Ruxience"}, "Pediatric GPA/MPA"},
		{"no labelled use anywhere", child(snomedGPA, cond("I10")), nil, nil, "Indication unknown: check label"},
		// The order's own reason is read (ICD-10-CM breast cancer) and no rituximab label names
		// it: the diagnosis is known, it is no labelled use (card review, 3 December 2026: the
		// card said "Indication unknown").
		{"a reason no label names", child(map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.911"}, cond("I10")), nil, nil,
			"Reason not a labelled use: check label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sgs, detail := policyAnswer(t, e, "aco-rituximab-order-sign", c.edit)
			got := labels(sgs)
			for _, w := range c.wantIn {
				if !strings.Contains(got, w) {
					t.Errorf("want %s suggested, got %q", w, got)
				}
			}
			for _, n := range c.notIn {
				if strings.Contains(got, n) {
					t.Errorf("%s suggested for a child with GPA: %q", n, got)
				}
			}
			if !strings.Contains(detail, c.note) {
				t.Errorf("detail lacks %q:\n%s", c.note, detail)
			}
			if strings.Contains(detail, "Indication unknown") && strings.Contains(detail, "Reason not a labelled use") {
				t.Errorf("both the unknown and the unlabelled line:\n%s", detail)
			}
		})
	}
}

// Pharmacist review H4: therapy in progress is recognised however the history is written: a
// MedicationRequest whose medication is a contained Medication, or only a MedicationAdministration
// (prefetch key administrations). Under "never" neither patient gets a switch card.
func TestMidCourseFromReferenceOrAdministration(t *testing.T) {
	e := newEnv(t)
	herceptin := map[string]any{"coding": []any{map[string]any{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1922509"}}}
	for _, c := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"contained Medication", func(m map[string]any) {
			m["prefetch"].(map[string]any)["medications"] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": []any{
				map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "h1", "status": "active", "intent": "order",
					"authoredOn": "2026-01-05", "medicationReference": map[string]any{"reference": "#m1"},
					"contained": []any{map[string]any{"resourceType": "Medication", "id": "m1", "code": herceptin}}}}}}
		}},
		{"administration only", func(m map[string]any) {
			pf := m["prefetch"].(map[string]any)
			pf["medications"] = nil
			pf["administrations"] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": []any{
				map[string]any{"resource": map[string]any{"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
					"effectiveDateTime": "2026-01-26", "medicationCodeableConcept": herceptin}}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if sgs, _ := policyAnswer(t, e, "aco-herceptin-order-select", c.edit); sgs != nil {
				t.Fatalf("patient on Herceptin got a switch card: %q", labels(sgs))
			}
		})
	}
}

// Pharmacist review M6: the formulary alternative of an off-formulary order is suggested whatever
// the money says, and when it costs more the card says so. The north infusion centre (formulary:
// Herceptin, Kanjinti) with Trazimera ordered: Kanjinti's Jan 2026 limit (Q5117) is above
// Trazimera's 8.205 per 10 mg, so patient and total cost rise.
func TestFormularySwitchThatCostsMoreIsSaid(t *testing.T) {
	e := newEnv(t, withPolicy(t, `
formularies:
  - site: ""
    products:
      trastuzumab: [herceptin, kanjinti]
`))
	traz := productNamed(t, "Trazimera")
	sgs, detail := policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
		draftOf(m)["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": traz.HCPCS}}}
	})
	if len(sgs) != 1 || !strings.Contains(sgs[0].label, "Kanjinti") {
		t.Fatalf("want the formulary Kanjinti, got %q", labels(sgs))
	}
	if !strings.Contains(detail, "Patient pays $") || !strings.Contains(detail, "Total cost $") {
		t.Fatalf("detail does not say the formulary switch costs more:\n%s", detail)
	}
}
