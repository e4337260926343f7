package gateway

import (
	"encoding/json"
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
		{"control: everything classified, the create is offered", metforminMR, with(metformin), diabetes, bundle(),
			want{measures: "SUPD", supdCreate: true, summary: "no statin filled this year"}}, // control: all classified, create offered
		// c48: Wegovy (semaglutide 2.4 mg, weight management) with obesity only: no PDC-DR and no SUPD.
		{"c48 Wegovy is not a diabetes medication", medOrder(rxnormSys, "2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]"),
			bundle(dispense("2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]", "2026-01-05", 28), dispense("2553506", "semaglutide 2.4 MG/0.75ML Auto-Injector [Wegovy]", "2026-02-05", 28)),
			bundle(condition("E66.9"), condition("Z68.35")), bundle(), want{measures: ""}},
		{"Zepbound order with metformin fills and E11: no SUPD from the Zepbound order", medOrder("", "", "ZEPBOUND 5 MG/0.5 ML PEN"), with(metformin), diabetes, bundle(), want{measures: ""}},
		// c32: an insulin syringe is not insulin: metformin Jan 5 x30, Apr 1 x30 (60 of 178 days)
		// stays in PDC-DR and gets its card; the syringe itself is a supply the value set does not
		// classify, so the SUPD card asks.
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
