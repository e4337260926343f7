package gateway

import (
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
)

// Adherence cards against a clinical pharmacist's review of 3 December 2026: each case worked by
// hand from the PQA PDC rules (and, for pregnancy, the ACE inhibitor/ARB boxed warning).

func measureCards(t *testing.T, cards []cdshooks.Card, m string) []cdshooks.Card {
	t.Helper()
	var out []cdshooks.Card
	for _, c := range cards {
		if ext(t, c).Measure == m {
			out = append(out, c)
		}
	}
	return out
}

// a child (12 on Dec 31) with ONE statin fill gets a PDC-STA card, though the PQA PDC
// measures count adults only (README: "people under 18 ... get no card").
// Jan 1 x30, today Jul 1: 30 of 182 days covered (16 %).
func TestAdherenceNoCardForAChildWithOneFill(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("83367", "atorvastatin", "2026-01-01", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "2014-03-01", atorvastatinOrder(), fills, bundle()))
	if n := len(measureCards(t, cards, "PDC-STA")); n != 0 {
		t.Fatalf("12-year-old: %d PDC-STA cards, want 0 (PDC measures are adults only)\n%s", n, cards[0].Summary)
	}
}

// an ESRD (N18.6) patient with one statin fill gets a PDC-STA card; ESRD excludes from
// PDC-STA (PQA/CMS exclusion), README: "excluded patients (ESRD, ...) get no card".
func TestAdherenceNoCardForESRDWithOneFill(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("83367", "atorvastatin", "2026-01-01", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), fills, bundle(condition("N18.6"))))
	if n := len(measureCards(t, cards, "PDC-STA")); n != 0 {
		t.Fatalf("ESRD patient: %d PDC-STA cards, want 0\n%s", n, cards[0].Summary)
	}
}

// an insulin user (insulin glargine filled Feb 1) with one metformin fill gets a PDC-DR card
// with a 90-day suggestion; one insulin fill excludes from PDC-DR (CMS D08).
func TestAdherenceNoDiabetesCardForAnInsulinUserWithOneFill(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("6809", "metformin", "2026-01-01", 30), dispense("274783", "insulin glargine", "2026-02-01", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", metforminOrder(), fills, bundle()))
	if n := len(measureCards(t, cards, "PDC-DR")); n != 0 {
		t.Fatalf("insulin user: %d PDC-DR cards, want 0\n%s", n, measureCards(t, cards, "PDC-DR")[0].Summary)
	}
}

// on December 31 a patient who picked up 90 days on December 1 has supply to 2027-02-28
// (Dec 1 + 90 = Mar 1 first day without), yet the card says "out of medication now".
func TestAdherenceSupplyOnDecember31(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.December, 31, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("83367", "atorvastatin", "2026-01-05", 30), dispense("83367", "atorvastatin", "2026-12-01", 90))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), fills, bundle()))
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	d := cards[0].Detail
	if strings.Contains(d, "out of medication now") || !strings.Contains(d, "refill due 2027-03-01") {
		t.Errorf("Dec 31, 59 days on hand (Jan 1-Feb 28), refill due 2027-03-01; detail:\n%s", d)
	}
}

// a new start: the first statin ever this year was picked up today (Nov 15 x30). PDC to date
// 1 of 1 (100 %). Total Nov 15-Dec 31 = 47 days, needed ceil(0.8 x 47) = 38, 9 gap days left <= 14,
// so the card fires as "at risk" and suggests a 90-day supply with 3 refills of a drug the patient
// has not yet taken one tablet of (README: "new starts ... get no card"; the SUPD card itself
// refuses a 90-day supply for a new start: tolerance and the lipid panel first).
func TestAdherenceNoCardForANewStart(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.November, 15, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("83367", "atorvastatin", "2026-11-15", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), fills, bundle()))
	for _, c := range cards {
		t.Errorf("new start (first fill today, 100 %% covered): card %q with %d suggestions", c.Summary, len(c.Suggestions))
	}
}

// ACE inhibitors/ARBs are contraindicated in pregnancy (boxed warning, fetal toxicity:
// discontinue when pregnancy is detected). A patient with Z3A.20 (20 weeks' gestation) this year,
// lisinopril Jan 1 x30 and Mar 1 x30 (60 of 182 days to Jul 1), gets a PDC-RASA card urging
// adherence and a one-click 90-day supply with 3 refills of lisinopril.
func TestAdherenceNoRASAPushInPregnancy(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("29046", "lisinopril", "2026-01-01", 30), dispense("29046", "lisinopril", "2026-03-01", 30))
	preg := condition("Z3A.20")
	preg["onsetDateTime"] = "2026-05-01"
	cards := measureCards(t, adherenceCardsOf(t, e, orderSign(t, "1994-04-02", medOrder(rxnormSys, "29046", "lisinopril 10 MG Oral Tablet"), fills, bundle(preg))), "PDC-RASA")
	for _, c := range cards {
		t.Errorf("pregnant (Z3A.20): PDC-RASA card %q, %d suggestions (first: %q)", c.Summary, len(c.Suggestions), c.Suggestions[0].Label)
	}
}

func noSupply(d map[string]any) map[string]any {
	delete(d, "daysSupply")
	d["quantity"] = map[string]any{"value": 30, "unit": "tablet"}
	return d
}

// a statin dispense with quantity but no daysSupply is a statin fill for SUPD (numerator:
// one or more statin fills, PQA SUPD), it was dropped, and the card said "no statin filled"
// and created atorvastatin 20 mg: duplicate statin therapy.
func TestAdherenceStatinDispenseWithoutDaysSupplyMeetsSUPD(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("6809", "metformin", "2026-01-10", 90), dispense("6809", "metformin", "2026-04-10", 90),
		noSupply(dispense("83367", "atorvastatin", "2026-03-01", 30)))
	cards := adherenceCardsOf(t, e, orderSign(t, "1965-09-09", metforminOrder(), fills, bundle()))
	for _, c := range measureCards(t, cards, "SUPD") {
		t.Errorf("SUPD card for a patient with an atorvastatin dispense on 2026-03-01: %q create=%v", c.Summary, hasCreate(c))
	}
}

// an insulin dispense without daysSupply is still "one or more fills of insulin" (CMS D08
// exclusion), it was dropped and the patient got a PDC-DR card.
// metformin Jan 1 x30, Mar 1 x30: 60 of 182 days.
func TestAdherenceInsulinWithoutDaysSupplyExcludes(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("6809", "metformin", "2026-01-01", 30), dispense("6809", "metformin", "2026-03-01", 30),
		noSupply(dispense("274783", "insulin glargine", "2026-02-01", 30)))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", metforminOrder(), fills, bundle()))
	if n := len(measureCards(t, cards, "PDC-DR")); n != 0 {
		t.Fatalf("insulin user: %d PDC-DR cards, want 0: %s", n, measureCards(t, cards, "PDC-DR")[0].Summary)
	}
}

// PDC-DR is all-class, but the card's "supply left ... refill due" is the class union:
// metformin (the drug ordered) ran out on Jul 9 (Jun 10 x30), glipizide runs to Aug 29 (Jun 1 x90).
// Today Jul 20: the card tells the prescriber the refill is due Aug 30, while the patient has been
// out of metformin for 11 days.
func TestAdherenceRefillDueIsTheOrderedDrugs(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 20, 15, 0, 0, 0, time.UTC)))
	fills := bundle(dispense("6809", "metformin", "2026-01-01", 30), dispense("", "glipizide 5 MG Oral Tablet", "2026-01-01", 30),
		dispense("", "glipizide 5 MG Oral Tablet", "2026-06-01", 90), dispense("6809", "metformin", "2026-06-10", 30))
	cards := measureCards(t, adherenceCardsOf(t, e, orderSign(t, "1955-04-02", metforminOrder(), fills, bundle())), "PDC-DR")
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	if d := cards[0].Detail; strings.Contains(d, "refill due 2026-08-30") || !strings.Contains(d, "No metformin left from its last fill: none since 2026-07-10.") {
		t.Errorf("metformin ran out 2026-07-09 (none from 2026-07-10); detail:\n%s", d)
	}
}
