package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
)

// The pharmacist review of 2026-12-01 (/work/wt/reviews/pharmacist-adherence.md), case by case,
// through the real gateway on July 1 2026.

// dispenseNDC is a completed MedicationDispense coded by NDC only, as pharmacy systems send them.
func dispenseNDC(ndc, display, day string, supply int) map[string]any {
	d := dispense("", display, day, supply)
	d["medicationCodeableConcept"] = map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/ndc", "code": ndc, "display": display}}, "text": display}
	return d
}

func condition(code string) map[string]any {
	return map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}}}}
}

func medOrder(system, code, display string) map[string]any {
	cc := map[string]any{"text": display}
	if code != "" {
		cc["coding"] = []map[string]string{{"system": system, "code": code, "display": display}}
	}
	return map[string]any{"medicationCodeableConcept": cc, "dosageInstruction": []map[string]any{{"text": "1 daily"}},
		"dispenseRequest": map[string]any{"quantity": map[string]any{"value": 30, "unit": "tablet"},
			"expectedSupplyDuration": map[string]any{"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}}}
}

const rxnormSys = "http://www.nlm.nih.gov/research/umls/rxnorm"

func activeMed(system, code, display string) map[string]any {
	m := medOrder(system, code, display)
	m["resourceType"], m["status"], m["intent"], m["id"] = "MedicationRequest", "active", "order", "rx-"+code
	m["subject"] = map[string]string{"reference": "Patient/pat-adh"}
	return m
}

// withPrefetch sets prefetch members of a request body.
func withPrefetch(t *testing.T, body []byte, kv map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range kv {
		m["prefetch"].(map[string]any)[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func byMeasure(t *testing.T, cards []cdshooks.Card) map[string]cdshooks.Card {
	out := map[string]cdshooks.Card{}
	for _, c := range cards {
		m := ext(t, c).Measure
		if _, dup := out[m]; dup {
			t.Fatalf("two %s cards", m)
		}
		out[m] = c
	}
	return out
}

func hasCreate(c cdshooks.Card) bool {
	for _, s := range c.Suggestions {
		for _, a := range s.Actions {
			if a.Type == cdshooks.ActionCreate {
				return true
			}
		}
	}
	return false
}

// TestReviewProductsRecognised: Critical 1 (brand names, NDCs, RxNorm SBDs and the safety rule
// for what cannot be classified), Critical 2 (weight-loss incretins), H1 (insulin supplies) and
// H2 (Entresto by brand and NDC, and as the order).
func TestReviewProductsRecognised(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	diabetes := bundle(condition("E11.9"))
	metformin := []map[string]any{dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 90), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-05", 90)}
	with := func(fills []map[string]any, more ...map[string]any) map[string]any {
		return bundle(append(append([]map[string]any{}, fills...), more...)...)
	}
	metforminMR := medOrder(rxnormSys, "861007", "metformin hydrochloride 500 MG Oral Tablet")
	type want struct {
		measures   string // the adherence card measures, sorted, comma-separated
		supdCreate bool
		summary    string // a substring of the SUPD card's summary, when there is one
		covered    int    // PDC card: days covered (0: not checked)
		days       int
	}
	cases := []struct {
		name  string
		draft map[string]any
		fills map[string]any
		conds map[string]any
		meds  map[string]any
		want  want
	}{
		// c53: a CRESTOR 10MG TAB fill coded by NDC on Feb 1 is a statin fill: SUPD met, no card.
		// Metformin Jan 5 x90 and Apr 5 x90 cover Jan 5-Jul 1 entirely: no PDC-DR card either.
		{"c53 Crestor NDC fill is a statin", metforminMR, with(metformin, dispenseNDC("00310075190", "CRESTOR 10MG TAB", "2026-02-01", 90)), diabetes, bundle(), want{measures: ""}},
		// c54: Crestor on the list (RxNorm SBD 859753, free-text display): ask, no second statin.
		{"c54 Crestor on the list by SBD code", metforminMR, with(metformin), diabetes, bundle(activeMed(rxnormSys, "859753", "Crestor 10 mg tablet")),
			want{measures: "SUPD", summary: "Crestor 10 mg tablet is on the medication list but not filled this year"}},
		// c15: LIPITOR 40MG TAB by NDC, Jan 5 x30 (Jan 5-Feb 3) and Apr 1 x30 (Apr 1-30): 60 days
		// covered of Jan 5-Jul 1 = 27+28+31+30+31+30+1 = 178. PDC 0.337: a PDC-STA card.
		{"c15 Lipitor NDC fills count for PDC-STA", atorvastatinOrder(), bundle(dispenseNDC("00071015623", "LIPITOR 40MG TAB", "2026-01-05", 30), dispenseNDC("00071015623", "LIPITOR 40MG TAB", "2026-04-01", 30)), bundle(), bundle(),
			want{measures: "PDC-STA", covered: 60, days: 178}},
		// Safety rule: a list medication the value set cannot classify (an unlisted brand by NDC)
		// may be a statin: the SUPD card asks and offers no create.
		{"unclassified list medication: ask", metforminMR, with(metformin), diabetes, bundle(activeMed("http://hl7.org/fhir/sid/ndc", "00069153066", "NORVASC 5MG TAB")),
			want{measures: "SUPD", summary: "check whether NORVASC 5MG TAB is a statin"}},
		{"unclassified fill: ask", metforminMR, with(metformin, dispenseNDC("99999000001", "ZYPITAMAGG 2MG TAB", "2026-03-01", 30)), diabetes, bundle(),
			want{measures: "SUPD", summary: "check whether ZYPITAMAGG 2MG TAB is a statin"}},
		{"a pen-needle fill is classified (a supply): the create is still offered", metforminMR, with(metformin, dispense("", "BD Insulin Pen Needle 32G 4mm", "2026-03-01", 90)), diabetes, bundle(),
			want{measures: "SUPD", supdCreate: true, summary: "no statin filled this year"}},
		{"control: everything classified, the create is offered", metforminMR, with(metformin), diabetes, bundle(),
			want{measures: "SUPD", supdCreate: true, summary: "no statin filled this year"}}, // control: all classified, create offered
		// c48: Wegovy (semaglutide 2.4 mg, weight management) with obesity only: no PDC-DR and no SUPD.
		{"c48 Wegovy is not a diabetes medication", medOrder(rxnormSys, "2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]"),
			bundle(dispense("2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]", "2026-01-05", 28), dispense("2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]", "2026-02-05", 28)),
			bundle(condition("E66.9"), condition("Z68.35")), bundle(), want{measures: ""}},
		{"Zepbound order with metformin fills and E11: no SUPD from the Zepbound order", medOrder("", "", "ZEPBOUND 5 MG/0.5 ML PEN"), with(metformin), diabetes, bundle(), want{measures: ""}},
		// c32: an insulin syringe is not insulin: metformin Jan 5 x30, Apr 1 x30 (60 of 178 days)
		// stays in PDC-DR and gets its card; the atorvastatin on the list gets the SUPD question.
		{"c32 insulin syringe does not exclude from PDC-DR", metforminMR,
			bundle(dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 30), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-01", 30), dispense("", "Insulin Syringe 1 mL 31G x 5/16in", "2026-05-01", 30)),
			diabetes, bundle(activeMed(rxnormSys, "617310", "atorvastatin 20 MG Oral Tablet")), want{measures: "PDC-DR,SUPD", covered: 60, days: 178, summary: "on the medication list"}},
		{"c31 control: an insulin fill excludes", metforminMR,
			bundle(dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 30), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-01", 30), dispense("", "insulin glargine 100 UNT/ML Pen Injector [Lantus]", "2026-05-01", 30)),
			diabetes, bundle(activeMed(rxnormSys, "617310", "atorvastatin 20 MG Oral Tablet")), want{measures: "SUPD", summary: "on the medication list"}},
		// c26: ENTRESTO by NDC and brand display excludes from PDC-RASA; c25's control without it
		// gets the card (losartan Jan 5 x30, Apr 1 x30: 60 of 178).
		{"c26 Entresto NDC fill excludes from PDC-RASA", medOrder(rxnormSys, "979485", "losartan potassium 50 MG Oral Tablet"),
			bundle(dispense("979485", "losartan potassium 50 MG Oral Tablet", "2026-01-05", 30), dispense("979485", "losartan potassium 50 MG Oral Tablet", "2026-04-01", 30), dispenseNDC("00078065920", "ENTRESTO 49-51 MG TABLET", "2026-06-01", 30)),
			bundle(), bundle(), want{measures: ""}},
		{"c26 control without Entresto", medOrder(rxnormSys, "979485", "losartan potassium 50 MG Oral Tablet"),
			bundle(dispense("979485", "losartan potassium 50 MG Oral Tablet", "2026-01-05", 30), dispense("979485", "losartan potassium 50 MG Oral Tablet", "2026-04-01", 30)),
			bundle(), bundle(), want{measures: "PDC-RASA", covered: 60, days: 178}},
		// c27: an Entresto order for a patient on lisinopril: the order itself will exclude the
		// patient from PDC-RASA, so no RASA adherence card.
		{"c27 Entresto order gets no RASA card", medOrder("", "", "ENTRESTO 49-51 MG TABLET"),
			bundle(dispense("", "lisinopril 10 MG Oral Tablet", "2026-01-05", 30), dispense("", "lisinopril 10 MG Oral Tablet", "2026-04-01", 30)),
			bundle(), bundle(), want{measures: ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := orderSign(t, "1965-03-14", c.draft, c.fills, c.conds)
			body = withPrefetch(t, body, map[string]any{"medications": c.meds})
			got := byMeasure(t, adherenceCardsOf(t, e, body))
			var ms []string
			for _, m := range []string{"PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"} {
				if _, ok := got[m]; ok {
					ms = append(ms, m)
				}
			}
			if strings.Join(ms, ",") != c.want.measures {
				t.Fatalf("cards %v, want %q", ms, c.want.measures)
			}
			if s, ok := got["SUPD"]; ok {
				if hasCreate(s) != c.want.supdCreate || !strings.Contains(s.Summary, c.want.summary) {
					t.Errorf("SUPD card %q create %v, want %q create %v\n%s", s.Summary, hasCreate(s), c.want.summary, c.want.supdCreate, s.Detail)
				}
			}
			for _, m := range ms {
				if m == "SUPD" || c.want.days == 0 {
					continue
				}
				x := ext(t, got[m])
				if *x.DaysCovered != c.want.covered || *x.Days != c.want.days {
					t.Errorf("%s: %d of %d days covered, want %d of %d", m, *x.DaysCovered, *x.Days, c.want.covered, c.want.days)
				}
			}
		})
	}
}

// TestReviewStatinCautions: Critical 3, H4, H5, H6 and M2. A patient with diabetes, 60 on
// January 1, metformin filled Jan 5 and Apr 5 (x90: Jan 5-Jul 3 covered, no PDC-DR card), no
// statin: the SUPD gap stays on the card, but a documented allergy, intolerance, pregnancy or
// ASCVD replaces the one-click moderate-intensity create by a question; palliative care gets no
// adherence card at all.
func TestReviewStatinCautions(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	metformin := bundle(dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 90), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-05", 90))
	allergy := func(status string) map[string]any {
		return bundle(map[string]any{"resourceType": "AllergyIntolerance", "id": "al-1",
			"clinicalStatus": map[string]any{"coding": []map[string]string{{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": status}}},
			"code":           map[string]any{"coding": []map[string]string{{"system": rxnormSys, "code": "83367", "display": "atorvastatin"}}, "text": "atorvastatin"},
			"reaction":       []map[string]any{{"manifestation": []map[string]any{{"text": "myalgia, CK 10x ULN"}}}}})
	}
	stopped := activeMed(rxnormSys, "859749", "rosuvastatin calcium 10 MG Oral Tablet")
	stopped["status"], stopped["statusReason"] = "stopped", map[string]any{"text": "myalgia"}
	stoppedOther := activeMed(rxnormSys, "859749", "rosuvastatin calcium 10 MG Oral Tablet")
	stoppedOther["status"], stoppedOther["statusReason"] = "stopped", map[string]any{"text": "patient moved"}
	cases := []struct {
		name      string
		conds     []string
		allergies any // nil: key left out
		meds      map[string]any
		card      bool
		create    bool
		summary   string
		detail    string
	}{
		{"control: nothing documented, allergies prefetched empty", nil, bundle(), bundle(), true, true, "guidelines recommend a moderate-intensity statin", ""},
		{"c39 active atorvastatin allergy", nil, allergy("active"), bundle(), true, false, "statin allergy documented", "atorvastatin (myalgia, CK 10x ULN)"},
		{"resolved allergy does not block", nil, allergy("resolved"), bundle(), true, true, "moderate-intensity", ""},
		{"allergies not known: create kept, said so", nil, nil, bundle(), true, true, "moderate-intensity", "allergies were not available"},
		{"c40 T46.6X5A on the problem list", []string{"T46.6X5A"}, bundle(), bundle(), true, false, "statin intolerance documented", "T46.6X5A"},
		{"c41 rosuvastatin stopped for myalgia", nil, bundle(), bundle(stopped), true, false, "statin intolerance documented", "stopped (myalgia)"},
		{"a statin stopped for another reason does not block", nil, bundle(), bundle(stoppedOther), true, true, "moderate-intensity", ""},
		{"c45 pregnancy coded Z3A.28 only", []string{"Z3A.28"}, bundle(), bundle(), true, false, "pregnancy documented", "Z3A.28"},
		{"c44 pregnancy coded O: excluded from SUPD, no card", []string{"O24.410"}, bundle(), bundle(), false, false, "", ""},
		{"c47 established ASCVD", []string{"I25.10", "I63.9"}, bundle(), bundle(), true, false, "high-intensity statin", "atorvastatin 40-80 mg or rosuvastatin 20-40 mg"},
		{"c58 palliative care: no card", []string{"Z51.5"}, bundle(), bundle(), false, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conds := []map[string]any{condition("E11.9")}
			for _, code := range c.conds {
				conds = append(conds, condition(code))
			}
			body := orderSign(t, "1965-03-14", medOrder(rxnormSys, "861007", "metformin hydrochloride 500 MG Oral Tablet"), metformin, bundle(conds...))
			pf := map[string]any{"medications": c.meds}
			if c.allergies != nil {
				pf["allergies"] = c.allergies
			}
			body = withPrefetch(t, body, pf)
			got := byMeasure(t, adherenceCardsOf(t, e, body))
			s, ok := got["SUPD"]
			if ok != c.card || len(got) != map[bool]int{true: 1, false: 0}[c.card] {
				t.Fatalf("cards %v, want SUPD card %v only", got, c.card)
			}
			if !ok {
				return
			}
			if hasCreate(s) != c.create || !strings.Contains(s.Summary, c.summary) || !strings.Contains(s.Detail, c.detail) {
				t.Errorf("card %q create %v, want %q create %v, detail with %q\n%s", s.Summary, hasCreate(s), c.summary, c.create, c.detail, s.Detail)
			}
		})
	}

	// c13: palliative care, a statin order at PDC 0.34 (the c15 fills): no 90-day push either.
	body := orderSign(t, "1952-08-19", atorvastatinOrder(), bundle(dispense("83367", "atorvastatin", "2026-01-05", 30), dispense("83367", "atorvastatin", "2026-04-01", 30)), bundle(condition("Z51.5")))
	if cards := adherenceCardsOf(t, e, body); len(cards) != 0 {
		t.Errorf("palliative care: %d adherence cards", len(cards))
	}
}

// TestReviewAllergiesFetched: without an allergies prefetch the gateway searches the FHIR server
// for the patient's AllergyIntolerances (as for dispenses) and withholds the create when one is a
// statin; discovery declares the key.
func TestReviewAllergiesFetched(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	var searched string
	fhirSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/AllergyIntolerance") {
			http.NotFound(w, r)
			return
		}
		searched = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"AllergyIntolerance","id":"a1","code":{"text":"Statins (HMG-CoA reductase inhibitors)"}}}]}`))
	}))
	defer fhirSrv.Close()
	body := orderSign(t, "1965-03-14", metforminOrder(), bundle(), bundle(condition("E11.9")))
	var m map[string]any
	json.Unmarshal(body, &m)
	m["fhirServer"] = fhirSrv.URL
	body, _ = json.Marshal(m)
	got := byMeasure(t, adherenceCardsOf(t, e, body))
	s, ok := got["SUPD"]
	if !ok || hasCreate(s) || !strings.Contains(s.Summary, "statin allergy documented") {
		t.Fatalf("fetched allergy: card %v %q", ok, s.Summary)
	}
	if searched != "patient=Patient%2Fpat-adh" && searched != "patient=Patient/pat-adh" {
		t.Errorf("searched %q", searched)
	}
	status, out, _ := e.do(http.MethodGet, "/cds-services", nil, map[string]string{"Authorization": "Bearer " + e.token("/cds-services")})
	if status != http.StatusOK || !strings.Contains(string(out), `"allergies":"AllergyIntolerance?patient={{context.patientId}}"`) {
		t.Errorf("discovery does not declare allergies: %d %s", status, out)
	}
}

// TestReviewTooLateThisYear (H7): on December 2, a patient whose first statin fill of the year is
// October 15 has a treatment period of Oct 15-Dec 31 = 17+30+31 = 78 days < 91: not in this
// year's denominator whatever happens. Fills Oct 15 x30 (Oct 15-Nov 13) and Nov 25 x30: through
// Dec 2, 38 of 49 days covered (78 %); the year needs ceil(0.8 x 78) = 63, 15 uncovered allowed,
// 11 used, 4 left. The card says the patient is not counted this year, and the organisation
// figure is the programme fee only ($1.50 for December), not the $230.50 of a counted patient.
// Control: first fill Oct 1 (92 days): Oct 1 x30, Nov 12 x30, 51 of 63 days (81 %), at risk
// with 6 days left. Already at 80 %: no gap to close, so no $40 per gap closed (M7): $25 per
// adherent patient + $266.67 tier share + $50 Star value = $341.67, x 0.6 = 205.00, + $1.50 =
// $206.50 (it was 0.6 x 381.67 + 1.50 = 230.50 before the review).
func TestReviewTooLateThisYear(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.December, 2, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"
	cases := []struct {
		name             string
		fills            map[string]any
		covered, days    int
		summary          string
		expected, closed float64
	}{
		{"c08 first fill Oct 15", bundle(dispense(atorva, "atorvastatin", "2026-10-15", 30), dispense(atorva, "atorvastatin", "2026-11-25", 30)), 38, 49,
			"Statin fills cover 78 % of days since the first fill (goal 80 %); not counted in the measure until next year", 1.5, 0},
		{"control: first fill Oct 1", bundle(dispense(atorva, "atorvastatin", "2026-10-01", 30), dispense(atorva, "atorvastatin", "2026-11-12", 30)), 51, 63,
			"Statin fills cover 81 % of days this year (goal 80 %): at risk, only 6 more days without it", 206.5, 341.67},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cards := adherenceCardsOf(t, e, withCoverage(t, orderSign(t, "1955-04-02", atorvastatinOrder(), c.fills, bundle()), maCoverage()))
			if len(cards) != 1 {
				t.Fatalf("%d cards", len(cards))
			}
			x := ext(t, cards[0])
			q, _ := qualityOf(t, cards[0])
			if *x.DaysCovered != c.covered || *x.Days != c.days || cards[0].Summary != c.summary || q.Organisation.Expected != c.expected || q.Organisation.IfClosed != c.closed {
				t.Errorf("%d of %d, %q, expected %v if closed %v\n%s", *x.DaysCovered, *x.Days, cards[0].Summary, q.Organisation.Expected, q.Organisation.IfClosed, cards[0].Detail)
			}
			if c.closed == 0 && (!strings.Contains(cards[0].Detail, "Not counted in the measure this year") || !strings.Contains(cards[0].Detail, "does not count in the measure this year, so no bonus")) {
				t.Errorf("detail %s", cards[0].Detail)
			}
		})
	}
}

// TestReviewSUPDDiabetesList (M9): an acarbose-only patient (c59: acarbose Jan 5 and Apr 5, no
// diagnosis coded) has two diabetes medication fills on different dates for SUPD; an acarbose
// order gets the SUPD card but no PDC-DR card (alpha-glucosidase inhibitors are not a PDC-DR
// class). Bexagliflozin and tolbutamide are PDC-DR drugs: Jan 5 x30 and Apr 1 x30, 60 of 178 days.
func TestReviewSUPDDiabetesList(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	twice := func(name string, supply int) map[string]any {
		return bundle(dispense("", name, "2026-01-05", supply), dispense("", name, "2026-04-01", supply))
	}
	cases := []struct {
		name, drug string
		supply     int
		want       string
	}{
		{"c59 acarbose: SUPD, no PDC-DR", "acarbose 50 MG Oral Tablet", 90, "SUPD"},
		{"miglitol", "miglitol 25 MG Oral Tablet", 90, "SUPD"},
		{"bexagliflozin is PDC-DR", "bexagliflozin 20 MG Oral Tablet", 30, "PDC-DR,SUPD"},
		{"tolbutamide is PDC-DR", "tolbutamide 500 MG Oral Tablet", 30, "PDC-DR,SUPD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := withPrefetch(t, orderSign(t, "1965-03-14", medOrder("", "", c.drug), twice(c.drug, c.supply), bundle()), map[string]any{"allergies": bundle()})
			got := byMeasure(t, adherenceCardsOf(t, e, body))
			var ms []string
			for _, m := range []string{"PDC-DR", "PDC-RASA", "PDC-STA", "SUPD"} {
				if _, ok := got[m]; ok {
					ms = append(ms, m)
				}
			}
			if strings.Join(ms, ",") != c.want {
				t.Fatalf("cards %v, want %s", ms, c.want)
			}
			if s := got["SUPD"]; !hasCreate(s) || !strings.Contains(s.Detail, "diabetes medication fills this year") {
				t.Errorf("SUPD %q create %v", s.Summary, hasCreate(s))
			}
			if d, ok := got["PDC-DR"]; ok && (*ext(t, d).DaysCovered != 60 || *ext(t, d).Days != 178) {
				t.Errorf("PDC-DR %d of %d", *ext(t, d).DaysCovered, *ext(t, d).Days)
			}
		})
	}
}

// TestReviewWholePackages (M4): a draft in pens (or other packages) gets the whole packages that
// fit in 90 days and the matching duration; tablets are scaled as before.
func TestReviewWholePackages(t *testing.T) {
	cases := []struct {
		name     string
		qty      float64
		unit     string
		days     float64
		wantQty  float64
		wantDays int
	}{
		{"c21 Ozempic 1 pen per 28 days: 3 pens, 84 days", 1, "pen", 28, 3, 84},
		{"2 pens per 56 days: 3 pens, 84 days", 2, "pens", 56, 3, 84},
		{"1 pen per 30 days: 3 pens, 90 days", 1, "Pen", 30, 3, 90},
		{"1 inhaler per 30 days", 1, "inhaler", 30, 3, 90},
		{"a pen lasting 120 days: 1 pen, 120 days", 1, "pen", 120, 1, 120},
		{"60 tablets per 30 days: 180 tablets, 90 days", 60, "tablet", 30, 180, 90},
		{"28 tablets per 28 days: 90 tablets, 90 days", 28, "tablet", 28, 90, 90},
	}
	for _, c := range cases {
		draft, _ := json.Marshal(map[string]any{"resourceType": "MedicationRequest", "id": "x", "dispenseRequest": map[string]any{
			"quantity": map[string]any{"value": c.qty, "unit": c.unit}, "expectedSupplyDuration": map[string]any{"value": c.days, "code": "d"}}})
		out, n, ok := extendedSupply(draft)
		var m struct {
			DispenseRequest struct {
				Quantity struct{ Value float64 } `json:"quantity"`
				Duration struct{ Value int }     `json:"expectedSupplyDuration"`
			} `json:"dispenseRequest"`
		}
		json.Unmarshal(out, &m)
		if !ok || n != c.wantDays || m.DispenseRequest.Quantity.Value != c.wantQty || m.DispenseRequest.Duration.Value != c.wantDays {
			t.Errorf("%s: %s (days %d)", c.name, out, n)
		}
	}
}

// TestReviewSupplyPastYearEnd (M1): on December 1 a patient who picked up 90 days today (and had
// one 30-day fill on Jan 5) has supply to February 28, 2027: the card says 89 days left (Dec 2 to
// Feb 28: 30 + 31 + 28) and the refill due on 2027-03-01, not 30 days and 2027-01-01 as when the
// supply was cut at December 31. PDC to date: Jan 5-Feb 3 and Dec 1 covered, 31 of 331 days.
func TestReviewSupplyPastYearEnd(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.December, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("83367", "atorvastatin", "2026-01-05", 30), dispense("83367", "atorvastatin", "2026-12-01", 90))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), fills, bundle()))
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	x := ext(t, cards[0])
	if *x.DaysCovered != 31 || *x.Days != 331 || !strings.Contains(cards[0].Detail, "About 89 days of supply left from the last fill (refill due 2027-03-01).") {
		t.Errorf("%d of %d\n%s", *x.DaysCovered, *x.Days, cards[0].Detail)
	}
}

// TestReviewUnclassifiedDraft: a second draft order the value set cannot classify (an unlisted
// brand, free text) may be a statin being ordered now: the SUPD card asks and creates nothing.
func TestReviewUnclassifiedDraft(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	metformin := bundle(dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 90), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-05", 90))
	body := withPrefetch(t, orderSign(t, "1965-03-14", medOrder(rxnormSys, "861007", "metformin hydrochloride 500 MG Oral Tablet"), metformin, bundle(condition("E11.9"))), map[string]any{"allergies": bundle()})
	var m map[string]any
	json.Unmarshal(body, &m)
	other := medOrder("", "", "NOVELSTAT 2MG TAB")
	other["resourceType"], other["id"], other["status"], other["intent"] = "MedicationRequest", "draft-2", "draft", "order"
	ctx := m["context"].(map[string]any)["draftOrders"].(map[string]any)
	ctx["entry"] = append(ctx["entry"].([]any), map[string]any{"resource": other})
	body, _ = json.Marshal(m)
	got := byMeasure(t, adherenceCardsOf(t, e, body))
	s, ok := got["SUPD"]
	if !ok || hasCreate(s) || !strings.Contains(s.Summary, "check whether NOVELSTAT 2MG TAB is a statin") {
		t.Fatalf("card %v %q create %v", ok, s.Summary, hasCreate(s))
	}
}

// TestReviewConditionDates (M3, dates): a condition the population run would not read for 2026
// does not change the card either. ESRD (N18.6) that abated in 2019 (a kidney transplant) does
// not exclude: the SUPD card is there; N18.6 recorded in 2026 excludes; a Z3A pregnancy code
// abated in 2025 does not stop the create.
func TestReviewConditionDates(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	metformin := bundle(dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-01-05", 90), dispense("", "metformin hydrochloride 500 MG Oral Tablet", "2026-04-05", 90))
	dated := func(code, onset, abated string) map[string]any {
		c := condition(code)
		if onset != "" {
			c["onsetDateTime"] = onset
		}
		if abated != "" {
			c["abatementDateTime"] = abated
		}
		return c
	}
	cases := []struct {
		name         string
		cond         map[string]any
		card, create bool
	}{
		{"ESRD abated in 2019", dated("N18.6", "2015-02-01", "2019-06-30"), true, true},
		{"ESRD recorded this year", dated("N18.6", "2026-02-01", ""), false, false},
		{"pregnancy code abated in 2025", dated("Z3A.28", "2025-01-10", "2025-04-20"), true, true},
		{"pregnancy code this year", dated("Z3A.28", "2026-05-10", ""), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := withPrefetch(t, orderSign(t, "1965-03-14", medOrder(rxnormSys, "861007", "metformin hydrochloride 500 MG Oral Tablet"), metformin, bundle(condition("E11.9"), c.cond)), map[string]any{"allergies": bundle()})
			got := byMeasure(t, adherenceCardsOf(t, e, body))
			s, ok := got["SUPD"]
			if ok != c.card || ok && hasCreate(s) != c.create {
				t.Errorf("card %v create %v, want %v %v: %q", ok, hasCreate(s), c.card, c.create, s.Summary)
			}
		})
	}
}

// TestReviewQuantityFromSig (M5): a draft without expectedSupplyDuration gets the quantity of 90
// days of its sig; a sig that cannot be read (as needed, a taper, a pen) leaves it to the pharmacy.
func TestReviewQuantityFromSig(t *testing.T) {
	sig := func(dose float64, unit string, freq, period float64, periodUnit string) map[string]any {
		return map[string]any{"timing": map[string]any{"repeat": map[string]any{"frequency": freq, "period": period, "periodUnit": periodUnit}},
			"doseAndRate": []map[string]any{{"doseQuantity": map[string]any{"value": dose, "unit": unit}}}}
	}
	cases := []struct {
		name    string
		dosage  []map[string]any
		wantQty float64 // 0: no quantity
	}{
		{"c20 1 tablet daily: 90 tablets", []map[string]any{sig(1, "tablet", 1, 1, "d")}, 90},
		{"1 tablet twice daily: 180", []map[string]any{sig(1, "tablet", 2, 1, "d")}, 180},
		{"half a tablet daily: 45", []map[string]any{sig(0.5, "tablet", 1, 1, "d")}, 45},
		{"2 tablets weekly: ceil(90 x 2/7) = 26", []map[string]any{sig(2, "tablet", 1, 1, "wk")}, 26},
		{"as needed: left to the pharmacy", []map[string]any{func() map[string]any { m := sig(1, "tablet", 1, 1, "d"); m["asNeededBoolean"] = true; return m }()}, 0},
		{"a taper (two instructions): left to the pharmacy", []map[string]any{sig(2, "tablet", 1, 1, "d"), sig(1, "tablet", 1, 1, "d")}, 0},
		{"a pen: left to the pharmacy", []map[string]any{sig(1, "pen", 1, 7, "d")}, 0},
		{"monthly period unit: left to the pharmacy", []map[string]any{sig(1, "tablet", 1, 1, "mo")}, 0},
	}
	for _, c := range cases {
		draft, _ := json.Marshal(map[string]any{"resourceType": "MedicationRequest", "id": "x", "dosageInstruction": c.dosage,
			"dispenseRequest": map[string]any{"numberOfRepeatsAllowed": 11, "quantity": map[string]any{"value": 30, "unit": "tablet"}}})
		out, n, ok := extendedSupply(draft)
		var m struct {
			DispenseRequest struct {
				Quantity *struct{ Value float64 } `json:"quantity"`
			} `json:"dispenseRequest"`
		}
		json.Unmarshal(out, &m)
		got := 0.0
		if m.DispenseRequest.Quantity != nil {
			got = m.DispenseRequest.Quantity.Value
		}
		if !ok || n != 90 || got != c.wantQty {
			t.Errorf("%s: %s", c.name, out)
		}
	}
}

// TestReviewNoZeroOrganisationLine (review, low): the MA contract has PDC-RASA terms but no
// programme fee for it; a RASA patient who can no longer reach 80 % (lisinopril Jan 5 x30, Apr 1
// x30: 60 of 331 days on December 1) earns nothing under them, so the card carries no
// "Organisation: $0.00 expected" line and no valuerx-quality member.
func TestReviewNoZeroOrganisationLine(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.December, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("", "lisinopril 10 MG Oral Tablet", "2026-01-05", 30), dispense("", "lisinopril 10 MG Oral Tablet", "2026-04-01", 30))
	cards := adherenceCardsOf(t, e, withCoverage(t, orderSign(t, "1955-04-02", medOrder("", "", "lisinopril 10 MG Oral Tablet"), fills, bundle()), maCoverage()))
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	x := ext(t, cards[0])
	_, priced := qualityOf(t, cards[0])
	if x.Measure != "PDC-RASA" || x.Redeemable || *x.DaysCovered != 60 || *x.Days != 331 || priced || strings.Contains(cards[0].Detail, "Organisation:") {
		t.Errorf("%+v priced %v\n%s", x, priced, cards[0].Detail)
	}
}
