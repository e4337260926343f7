package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/scoring"
)

// Card review, 6 December 2026 (oncologist and clinical pharmacist): order-sign hooks with
// several drafts, and the wording of "Labelled for:" and of a biosimilar's detail.

// econOf decodes the figures of a card's valuerx-economics extension the tests below read.
type econAmountsT struct {
	Allowed, PayerPaid, Patient float64
}
type econOptionT struct {
	Product   string
	PerCourse econAmountsT `json:"perCourse"`
	PerYear   econAmountsT `json:"perYear"`
}
type econT struct {
	AdministrationsPerCourse int           `json:"administrationsPerCourse"`
	AdministrationsPerYear   int           `json:"administrationsPerYear"`
	Ordered                  econOptionT   `json:"ordered"`
	Options                  []econOptionT `json:"options"`
}

func econOf(t *testing.T, c cdshooks.Card) econT {
	t.Helper()
	var m struct {
		E econT `json:"valuerx-economics"`
	}
	if err := json.Unmarshal(c.Extension, &m); err != nil {
		t.Fatalf("extension: %v", err)
	}
	return m.E
}

// trastuzumabDraft is the ACO Herceptin draft with id, a dose in mg/kg and a timing repeat.
func trastuzumabDraft(t *testing.T, id string, mgPerKg float64, text string, repeat map[string]any) map[string]any {
	d := demoDraft(t, "aco-herceptin-order-select")
	d["id"] = id
	di := d["dosageInstruction"].([]any)[0].(map[string]any)
	di["text"] = text
	di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": mgPerKg, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
	di["timing"] = map[string]any{"repeat": repeat}
	return d
}

// signing posts an order-sign for the ACO patient (full prefetch: weight and height) with drafts.
func signing(t *testing.T, e *testEnv, drafts ...map[string]any) []cdshooks.Card {
	t.Helper()
	body := e.editDrafts("aco-rituximab-order-sign", func([]map[string]any) []map[string]any { return drafts })
	status, out, _ := e.post(serviceOf("aco-rituximab-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	return decodeResponse(t, out).Cards
}

// A one-time loading dose (8 mg/kg, timing.repeat count 1) signed beside the maintenance
// (6 mg/kg q3w x 16) read "Same dose: 8 mg/kg IV q3w" and "Switch to Trazimera
// (trastuzumab-qyyp) 8 mg/kg IV q3w": the loading dose as if repeated every three weeks, beside
// the maintenance card's "6 mg/kg IV q3w". A single administration is "once".
func TestOneTimeLoadingDoseIsNotLabelledRepeating(t *testing.T) {
	e := newEnv(t)
	cards := signing(t, e,
		trastuzumabDraft(t, "draft-loading", 8, "8 mg/kg IV once (loading)", map[string]any{"count": 1, "frequency": 1, "period": 3, "periodUnit": "wk"}),
		trastuzumabDraft(t, "draft-maintenance", 6, "6 mg/kg IV q3w", map[string]any{"count": 16, "frequency": 1, "period": 3, "periodUnit": "wk"}))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	load, maint := cards[0], cards[1]
	if !strings.Contains(load.Detail, "- Same dose: 8 mg/kg IV once\n") {
		t.Errorf("loading card's dose line:\n%s", load.Detail)
	}
	for _, s := range load.Suggestions {
		if strings.Contains(s.Label, "q3w") || !strings.Contains(s.Label, "8 mg/kg IV once") {
			t.Errorf("loading suggestion %q", s.Label)
		}
	}
	if !strings.Contains(maint.Detail, "- Same dose: 6 mg/kg IV q3w\n") || !strings.HasSuffix(maint.Suggestions[0].Label, "6 mg/kg IV q3w") {
		t.Errorf("maintenance card: %q\n%s", maint.Suggestions[0].Label, maint.Detail)
	}
}

// Two Part B drugs signed together (Herceptin 420 mg q3w x 17 and Rituxan 375 mg/m2 weekly x 4,
// ACO patient): each card took the whole 2026 Part B deductible (283.00) as unmet, so the
// patient figures of one signing held it twice: Herceptin 283 + 0.2 x (56,214.50 - 283) =
// 11,469.30, Rituxan 283 + 0.2 x (23,924.80 - 283) = 5,011.36, together 16,480.66, where the
// patient owes at most 283 + 0.2 x (80,139.30 - 283) = 16,254.26 (226.40 less). One card of the
// signing bears the deductible; the other says it is counted on another draft: Rituxan 0.2 x
// 23,924.80 = 4,784.96, Ruxience 0.2 x 4,246.40 = 849.28.
func TestPartBDeductibleOncePerSigning(t *testing.T) {
	e := newEnv(t)
	cards := signing(t, e, demoDraft(t, "aco-herceptin-order-select"), demoDraft(t, "aco-rituximab-order-sign"))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	unmet := 0
	var orderedPatient, orderedAllowed float64
	for _, c := range cards {
		if strings.Contains(c.Detail, "Assumes Part B deductible unmet") {
			unmet++
		}
		x := econOf(t, c)
		orderedPatient += x.Ordered.PerCourse.Patient
		orderedAllowed += x.Ordered.PerCourse.Allowed
	}
	if unmet != 1 {
		t.Errorf("%d cards of one signing assume the whole Part B deductible unmet, want 1", unmet)
	}
	if most := 283 + 0.2*(orderedAllowed-283); orderedPatient > most+0.02 {
		t.Errorf("the signing's cards charge the patient %.2f for the ordered drugs, at most %.2f is owed (deductible counted twice)", orderedPatient, most)
	}
	if !strings.Contains(cards[1].Detail, "| Patient | $4,785 | $849 |") || !strings.Contains(cards[1].Detail, "- Deductible counted on other draft\n") {
		t.Errorf("Rituxan card:\n%s", cards[1].Detail)
	}
}

// The same for the maximum out-of-pocket: MA capitation (MOOP 9,250), Herceptin loading 8 mg/kg
// once and maintenance 6 mg/kg x 16 in one signing. The maintenance card reads "Herceptin capped
// at $9,250 MOOP" and the loading card $882 more for Herceptin: 10,132 in one year, above the
// plan's yearly maximum.
func TestMaximumOutOfPocketOncePerSigning(t *testing.T) {
	e := newEnv(t)
	base := "ma-capitation-herceptin-order-sign-noprefetch"
	mk := func(id string, v float64, count int) map[string]any {
		d := demoDraft(t, base)
		d["id"] = id
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": v, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
		di["timing"] = map[string]any{"repeat": map[string]any{"count": count, "frequency": 1, "period": 3, "periodUnit": "wk"}}
		return d
	}
	body := e.editDrafts(base, func([]map[string]any) []map[string]any { return []map[string]any{mk("load", 8, 1), mk("maint", 6, 16)} })
	_, out, _ := e.post(serviceOf(base), body)
	cards := decodeResponse(t, out).Cards
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	sum := 0.0
	for _, c := range cards {
		sum += econOf(t, c).Ordered.PerCourse.Patient
	}
	if sum > 9250+0.02 {
		t.Errorf("the signing's cards charge the patient %.2f for Herceptin in one plan year, above the 9,250 maximum out-of-pocket", sum)
	}
	// By hand (CMS Q1 2026, USD per 10 mg: Herceptin 73.483, Trazimera 8.205; 70 kg; 20 %
	// coinsurance, no deductible under the MA plan): the loading dose, 560 mg as 4 x 150 mg,
	// 60 x 73.483 = 4,408.98 allowed, the patient 881.80; the maintenance, 16 x 45 x 73.483 =
	// 52,907.76, the patient 20 % = 10,581.55 capped at what the loading dose leaves of the
	// maximum, 9,250 - 881.80 = 8,368.20; Trazimera 16 x 42 x 8.205 = 5,513.76, the patient
	// 1,102.75, under it.
	load, maint := econOf(t, cards[0]), econOf(t, cards[1])
	if load.Ordered.PerCourse.Patient != 881.8 || maint.Ordered.PerCourse.Patient != 8368.2 || maint.Options[0].PerCourse.Patient != 1102.75 {
		t.Errorf("patient: loading Herceptin %.2f (want 881.80), maintenance Herceptin %.2f (want 8,368.20), Trazimera %.2f (want 1,102.75)",
			load.Ordered.PerCourse.Patient, maint.Ordered.PerCourse.Patient, maint.Options[0].PerCourse.Patient)
	}
	if !strings.Contains(cards[1].Detail, "- MOOP partly used by other draft\n") || strings.Contains(cards[0].Detail, "MOOP partly used") {
		t.Errorf("only the maintenance card says the other draft uses part of the maximum:\n%s\n%s", cards[0].Detail, cards[1].Detail)
	}
}

// A one-time loading dose signed beside its maintenance was projected as a year of therapy of
// its own: administrationsPerYear 17 at 560 mg (Herceptin 74,952.66 allowed a year), booked by
// the tracking beside the maintenance card's year: one patient's year of trastuzumab counted
// as two, one of them at the loading dose.
func TestLoadingDoseIsNotAYearOfTherapy(t *testing.T) {
	e := newEnv(t)
	cards := signing(t, e,
		trastuzumabDraft(t, "draft-loading", 8, "8 mg/kg IV once (loading)", map[string]any{"count": 1}),
		trastuzumabDraft(t, "draft-maintenance", 6, "6 mg/kg IV q3w", map[string]any{"count": 16, "frequency": 1, "period": 3, "periodUnit": "wk"}))
	if len(cards) != 2 {
		t.Fatalf("want two cards, got %d", len(cards))
	}
	x := econOf(t, cards[0])
	if x.AdministrationsPerCourse != 1 {
		t.Fatalf("loading card: %d administrations a course, want 1", x.AdministrationsPerCourse)
	}
	if math.Abs(x.Ordered.PerYear.Allowed-x.Ordered.PerCourse.Allowed) > 0.01 {
		t.Errorf("loading dose projected over a year: %d administrations, %.2f a year against %.2f for the one dose",
			x.AdministrationsPerYear, x.Ordered.PerYear.Allowed, x.Ordered.PerCourse.Allowed)
	}
	// The maintenance's year is the group's 17 administrations less the loading dose beside it:
	// 16 x 420 mg (Herceptin 45 x 73.483 = 3,306.735 a dose) = 52,907.76, its course; the
	// signing's year books 1 + 16 = 17 doses, trastuzumab's year of therapy.
	m := econOf(t, cards[1])
	if m.AdministrationsPerYear != 16 || math.Abs(m.Ordered.PerYear.Allowed-52907.76) > 0.005 {
		t.Errorf("maintenance: %d administrations a year, %.2f allowed; want 16 and 52,907.76", m.AdministrationsPerYear, m.Ordered.PerYear.Allowed)
	}
	if n := x.AdministrationsPerYear + m.AdministrationsPerYear; n != 17 {
		t.Errorf("the signing's year books %d doses, want 17", n)
	}
}

// With "Same molecule: trastuzumab" gone, a card on an order for a biosimilar opened "FDA
// biosimilar to Kanjinti": Trazimera is biosimilar to Herceptin, the reference product; two
// biosimilars are not biosimilar to each other (PHS Act 351(k)). The line names the reference.
func TestRelationshipLineNamesTheReferenceProduct(t *testing.T) {
	e := newEnv(t)
	kanjinti := productNamed(t, "Kanjinti")
	_, detail := policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
		draftOf(m)["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": kanjinti.HCPCS}}}
	})
	if detail == "" {
		t.Fatal("no card for Kanjinti ordered")
	}
	if strings.Contains(detail, "biosimilar to Kanjinti") || !strings.Contains(detail, "- FDA biosimilar to Herceptin\n") {
		t.Errorf("relationship line of a biosimilar suggested for a biosimilar:\n%s", detail)
	}
	// The reference ordered: unchanged.
	_, detail = policyAnswer(t, e, "aco-herceptin-order-select", nil)
	if !strings.HasPrefix(detail, "- FDA biosimilar to Herceptin\n- Labelled for: HER2+ breast cancer\n") {
		t.Errorf("Herceptin ordered:\n%s", detail)
	}
}

// The indication table named tocilizumab's group "tocilizumab"; the catalog's is
// "tocilizumab-iv" (since the catalog was imported from the agency files), so no tocilizumab
// indication was ever checked: an Actemra order for COVID-19 (U07.1) or CAR-T cytokine release
// syndrome was offered Tyenne and Tofidence, whose labels the table marks unknown for it, with
// "No known label differences".
func TestEveryIndicationGroupIsACatalogGroup(t *testing.T) {
	e := newEnv(t)
	cat := testCatalog(t)
	tab := e.gw.current().scorer.Policy().Indications()
	for _, g := range []string{"trastuzumab", "bevacizumab", "rituximab", "infliximab", "pegfilgrastim", "filgrastim", "eculizumab", "tocilizumab-iv", "ranibizumab", "aflibercept"} {
		if _, ok := cat.Group(g); !ok {
			t.Errorf("%s: no such catalog group", g)
		}
		if !tab.Covers(g) {
			t.Errorf("%s: the indication table lists no indication for the catalog group", g)
		}
	}
	actemra := productNamed(t, "Actemra")
	for _, code := range []string{"U07.1", "D89.832"} {
		_, detail := policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
			d := draftOf(m)
			d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": actemra.HCPCS}}}
			d["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}}}}
			di := d["dosageInstruction"].([]any)[0].(map[string]any)
			di["text"] = "8 mg/kg IV once"
			di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 8, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
			di["timing"] = map[string]any{"repeat": map[string]any{"count": 1}}
		})
		if strings.Contains(detail, "No known label differences") {
			t.Errorf("Actemra for %s: a biosimilar suggested with no label check:\n%s", code, detail)
		}
	}
}

// Short labels a physician could misread. The card joins several with ", " ("Labelled for:
// Ovarian cancer, frontline, Platinum-resistant ovarian cancer, Platinum-sensitive ovarian
// cancer" for a C56 order: four items read, three meant); filgrastim's AML row read "AML
// induction/consolidation" (filgrastim does not treat AML: it shortens neutropenia after that
// chemotherapy) and its chemotherapy row "Chemotherapy febrile neutropenia" (the label is to
// decrease the incidence of febrile neutropenia, not to treat it; pegfilgrastim's same row reads
// "Febrile neutropenia prophylaxis"); "Bone marrow transplant" (neutropenia after it); and
// eculizumab's "Generalized myasthenia gravis" dropped the label's anti-AChR antibody-positive
// restriction that its NMOSD row keeps ("NMOSD (anti-AQP4+)").
func TestShortIndicationLabelsReadRight(t *testing.T) {
	e := newEnv(t)
	tab := e.gw.current().scorer.Policy().Indications()
	for _, c := range []struct{ group, id, want string }{
		{"bevacizumab", "ovarian-frontline", "Frontline ovarian cancer"},
		{"tocilizumab-iv", "covid19", "Hospitalised COVID-19"},
		{"filgrastim", "aml-chemo", "Neutropenia after AML chemotherapy"},
		{"filgrastim", "chemo-fn", "Febrile neutropenia prophylaxis"},
		{"filgrastim", "bmt", "Neutropenia after BMT"},
		{"eculizumab", "gmg", "Generalized MG (anti-AChR+)"},
	} {
		if got := tab.Label(c.group, c.id); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.group, c.id, got, c.want)
		}
	}
	// No short label has a comma: scoring.TestShortLabelsHaveNoComma.
}

// A commercial contract with its own deductible (contracts.yaml deductible: 1500) read "Assumes
// Part B deductible unmet" on a commercial PPO card: Part B is Medicare's. The line names the
// plan's deductible there; a Medicare card keeps "Part B".
func TestDeductibleLineNamesThePayer(t *testing.T) {
	ded := 1500.0
	e := newEnv(t, withScoringConfig(t, func(c *scoring.Config) {
		for i := range c.Contracts {
			if c.Contracts[i].ID == "commercial-ppo" {
				c.Contracts[i].Deductible = &ded
			}
		}
	}))
	_, detail := policyAnswer(t, e, "commercial-ppo-herceptin-order-select", nil)
	if detail == "" {
		t.Fatal("no card")
	}
	if strings.Contains(detail, "Part B") || !strings.Contains(detail, "- Assumes plan deductible unmet\n") {
		t.Errorf("commercial card's deductible line:\n%s", detail)
	}
	if _, detail := policyAnswer(t, e, "medicare-ffs-herceptin-order-select", nil); !strings.Contains(detail, "- Assumes Part B deductible unmet\n") {
		t.Errorf("Medicare card's deductible line:\n%s", detail)
	}
}

// "Also drafted" looked at the catalog group only, and one molecule can be two groups:
// denosumab is Prolia (60 mg q6mo) and Xgeva (120 mg q4w), ustekinumab IV (induction) and SC
// (maintenance). A Stelara IV induction signed with its SC maintenance got a card switching the induction to Pyzchiva with nothing said of the Stelara SC draft beside it
// (a biosimilar for the first dose, the reference for the rest). The other drafts of the same
// molecule are named, with their route where it differs (Prolia beside Xgeva, duplicate
// denosumab, likewise; at the January 2026 prices neither gets a card to show it).
func TestAlsoDraftedAcrossGroupsOfOneMolecule(t *testing.T) {
	e := newEnv(t)
	mk := func(id string, coding map[string]any, mg float64, count int, per float64, unit, route, reason string) map[string]any {
		d := demoDraft(t, "aco-herceptin-order-select")
		d["id"] = id
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{coding}}
		d["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": reason}}}}
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "as ordered"
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}}
		rep := map[string]any{"count": count}
		if per > 0 {
			rep["frequency"], rep["period"], rep["periodUnit"] = 1, per, unit
		}
		di["timing"] = map[string]any{"repeat": rep}
		di["route"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": route}}}
		return d
	}
	hcpcs := func(code string) map[string]any {
		return map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": code}
	}
	const iv, sc = "47625008", "34206005"
	for _, c := range []struct {
		name   string
		drafts []map[string]any
		want   []string // per card that comes, the "Also drafted" line
	}{
		{"Stelara IV induction and SC maintenance", []map[string]any{
			mk("induction", hcpcs("J3358"), 390, 1, 0, "", iv, "K50.90"),
			mk("maintenance", hcpcs("J3357"), 90, 6, 8, "wk", sc, "K50.90"),
		}, []string{"- Also drafted: Stelara SC\n- Check for duplicate therapy\n", "- Also drafted: Stelara IV\n- Check for duplicate therapy\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cards := signing(t, e, c.drafts...)
			if len(cards) == 0 {
				t.Fatal("no card")
			}
			for _, card := range cards {
				var id string
				var res struct{ ID string }
				_ = json.Unmarshal(card.Suggestions[0].Actions[0].Resource, &res)
				id = res.ID
				want := c.want[0]
				if id != c.drafts[0]["id"] {
					want = c.want[1]
				}
				if !strings.Contains(card.Detail, want) {
					t.Errorf("card on %s lacks %q:\n%s", id, want, card.Detail)
				}
			}
		})
	}
}

// "Not suggested: Tofidence (not labelled for it)" on an Actemra card for rheumatoid arthritis:
// the indication table marks Tofidence's RA label "unknown" (not retrieved), not "no", and the
// card told the physician the label lacks it. An option whose label is only unconfirmed reads
// "label unconfirmed"; one whose label lacks the indication keeps "not labelled for it" (Herzuma
// for gastric cancer, the golden card).
func TestUnconfirmedLabelIsNotSaidToLackTheIndication(t *testing.T) {
	e := newEnv(t)
	actemra := productNamed(t, "Actemra")
	_, detail := policyAnswer(t, e, "aco-herceptin-order-select", func(m map[string]any) {
		d := draftOf(m)
		d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": actemra.HCPCS}}}
		d["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M05.79"}}}}
		di := d["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "8 mg/kg IV every 4 weeks"
		di["doseAndRate"] = []any{map[string]any{"doseQuantity": map[string]any{"value": 8, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}}}
		di["timing"] = map[string]any{"repeat": map[string]any{"count": 13, "frequency": 1, "period": 4, "periodUnit": "wk"}}
	})
	if !strings.Contains(detail, "- Labelled for: Rheumatoid arthritis\n") || !strings.Contains(detail, "  - Tofidence (label unconfirmed)\n") {
		t.Errorf("Actemra RA card:\n%s", detail)
	}
	gastric := func(m map[string]any) {
		draftOf(m)["reasonCode"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C16.9"}}}}
	}
	if _, detail := policyAnswer(t, e, "aco-herceptin-order-select", gastric); !strings.Contains(detail, "  - Herzuma (not labelled for it)\n") {
		t.Errorf("gastric card:\n%s", detail)
	}
}
