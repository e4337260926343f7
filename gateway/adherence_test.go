package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/scoring"
)

func withNow(t time.Time) envOption { return func(c *Config) { c.Now = func() time.Time { return t } } }

// dispense is a completed MedicationDispense of a product on a day with a days supply.
func dispense(code, display, day string, supply int) map[string]any {
	med := map[string]any{"text": display}
	if code != "" {
		med = map[string]any{"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}}}
	}
	return map[string]any{"resourceType": "MedicationDispense", "status": "completed", "medicationCodeableConcept": med,
		"daysSupply": map[string]any{"value": supply, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}, "whenHandedOver": day}
}

func bundle(res ...map[string]any) map[string]any {
	var entry []map[string]any
	for _, r := range res {
		entry = append(entry, map[string]any{"resource": r})
	}
	return map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entry}
}

func orderSign(t *testing.T, birth string, draft map[string]any, dispenses map[string]any, conditions map[string]any) []byte {
	t.Helper()
	draft["id"], draft["resourceType"], draft["status"], draft["intent"] = "draft-1", "MedicationRequest", "draft", "order"
	draft["subject"] = map[string]string{"reference": "Patient/pat-adh"}
	req := map[string]any{
		"hookInstance": "5f1c8f7e-2a53-4c1e-9a8e-2f0b9b8f0a11",
		"hook":         "order-sign",
		"context": map[string]any{"userId": "Practitioner/dr-1", "patientId": "pat-adh",
			"draftOrders": map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []map[string]any{{"resource": draft}}}},
		"prefetch": map[string]any{
			"patient":     map[string]any{"resourceType": "Patient", "id": "pat-adh", "birthDate": birth},
			"coverage":    nil,
			"medications": bundle(),
			"conditions":  conditions,
			"dispenses":   dispenses,
		},
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func atorvastatinOrder() map[string]any {
	return map[string]any{
		"medicationCodeableConcept": map[string]any{"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617311", "display": "atorvastatin 40 MG Oral Tablet"}}},
		"dosageInstruction":         []map[string]any{{"text": "1 tablet daily"}},
		"dispenseRequest": map[string]any{"numberOfRepeatsAllowed": 0, "quantity": map[string]any{"value": 30, "unit": "tablet"},
			"expectedSupplyDuration": map[string]any{"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}},
		"note": []map[string]string{{"text": "keep me"}},
	}
}

func metforminOrder() map[string]any {
	return map[string]any{"medicationCodeableConcept": map[string]any{"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6809", "display": "metformin"}}, "text": "metformin 500 mg tablet"}}
}

func adherenceCardsOf(t *testing.T, e *testEnv, body []byte) []cdshooks.Card {
	t.Helper()
	status, out, _ := e.post("/cds-services/"+ServiceOrderSign, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	if v := cdshooks.CheckResponse(out, nil); len(v) > 0 {
		t.Fatalf("response breaks CDS Hooks rules: %v\n%s", v, out)
	}
	var cards []cdshooks.Card
	for _, c := range decodeResponse(t, out).Cards {
		if len(c.Extension) > 0 && strings.Contains(string(c.Extension), extAdherence) {
			cards = append(cards, c)
		}
	}
	return cards
}

func ext(t *testing.T, c cdshooks.Card) adherenceExt {
	var m map[string]adherenceExt
	if err := json.Unmarshal(c.Extension, &m); err != nil {
		t.Fatal(err)
	}
	return m[extAdherence]
}

// Through the real gateway, on July 1 2026 (issue 17, "What it must show").
func TestAdherenceCards(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"

	// PDC 0.63: atorvastatin x30 on Jan 1 (Jan 1-30), Feb 10 (Feb 10-Mar 11), Mar 25 (Mar 25-Apr 23)
	// and Jun 7 (Jun 7-Jul 6). Jan 1-Jul 1 = 182 days (the fills through today count), 114+1 = 115
	// covered (Jul 1 is covered by the Jun 7 fill): PDC to date 115/182 = 0.6319. The year needs
	// ceil(0.8 x 365) = 292 covered: 73 uncovered days allowed, 67 used, 6 left: redeemable.
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()))
	if len(cards) != 1 {
		t.Fatalf("PDC 0.63: %d adherence cards, want 1", len(cards))
	}
	c := cards[0]
	x := ext(t, c)
	if x.Measure != "PDC-STA" || x.PDCToDate != 0.6319 || !x.Redeemable || *x.GapDaysLeft != 6 || *x.DaysCovered != 115 || *x.Days != 182 {
		t.Errorf("extension %+v (gap %d covered %d days %d)", x, *x.GapDaysLeft, *x.DaysCovered, *x.Days)
	}
	if c.Summary != "Statin fills cover 63 % of days this year (goal 80 %): reachable if at most 6 more days are missed" {
		t.Errorf("summary %q", c.Summary)
	}
	if len(c.Suggestions) != 1 || len(c.Suggestions[0].Actions) != 1 || c.Suggestions[0].Actions[0].Type != cdshooks.ActionUpdate {
		t.Fatalf("suggestions %+v", c.Suggestions)
	}
	var upd map[string]any
	if err := json.Unmarshal(c.Suggestions[0].Actions[0].Resource, &upd); err != nil {
		t.Fatal(err)
	}
	dr := upd["dispenseRequest"].(map[string]any)
	if dr["numberOfRepeatsAllowed"] != 3.0 || dr["expectedSupplyDuration"].(map[string]any)["value"] != 90.0 || dr["quantity"].(map[string]any)["value"] != 90.0 {
		t.Errorf("dispenseRequest %v: want 90 tablets for 90 days, 3 refills", dr)
	}
	if upd["id"] != "draft-1" || upd["note"] == nil || upd["medicationCodeableConcept"] == nil || upd["dosageInstruction"] == nil {
		t.Errorf("the update must keep the rest of the draft: %v", upd)
	}

	// Adherent: x30 every 30 days from Jan 1 covers every day: no card.
	var fills []map[string]any
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 30) {
		fills = append(fills, dispense(atorva, "atorvastatin", d.Format(time.DateOnly), 30))
	}
	if cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), bundle(fills...), bundle())); len(cards) != 0 {
		t.Fatalf("adherent patient got %d adherence cards: %+v", len(cards), cards[0].Summary)
	}

	// No fills this year (a new start): no adherence card.
	if cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), bundle(), bundle())); len(cards) != 0 {
		t.Fatalf("new start got %d cards", len(cards))
	}
}

func TestSUPDCards(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	diabetes := bundle(map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}}}})
	metformin := bundle(dispense("6809", "metformin", "2026-01-10", 90), dispense("6809", "metformin", "2026-04-10", 90))
	cases := []struct {
		name, birth string
		fills       map[string]any
		conds       map[string]any
		want        bool
	}{
		{"60, diabetes coded, no statin", "1965-09-09", bundle(), diabetes, true},
		{"60, diabetes from the fills only", "1965-09-09", metformin, bundle(), true},
		{"30-year-old with diabetes", "1996-03-03", metformin, diabetes, false},
		{"76 on January 1", "1949-12-31", metformin, diabetes, false},
		{"statin filled this year", "1965-09-09", bundle(dispense("", "simvastatin 20 MG Oral Tablet", "2026-02-01", 30)), diabetes, false},
		{"ESRD", "1965-09-09", metformin, bundle(map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.6"}}}}), false},
		{"no diabetes", "1965-09-09", bundle(), bundle(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cards := adherenceCardsOf(t, e, orderSign(t, c.birth, metforminOrder(), c.fills, c.conds))
			var supd []cdshooks.Card
			for _, card := range cards {
				if ext(t, card).Measure == "SUPD" {
					supd = append(supd, card)
				}
			}
			if (len(supd) == 1) != c.want || len(supd) > 1 {
				t.Fatalf("%d SUPD cards, want %v", len(supd), c.want)
			}
			if !c.want {
				return
			}
			s := supd[0].Suggestions
			if len(s) != 1 || s[0].Actions[0].Type != cdshooks.ActionCreate {
				t.Fatalf("suggestions %+v", s)
			}
			var mr map[string]any
			json.Unmarshal(s[0].Actions[0].Resource, &mr)
			code := mr["medicationCodeableConcept"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
			if mr["resourceType"] != "MedicationRequest" || code != "617310" || fmt.Sprint(mr["subject"]) != "map[reference:Patient/pat-adh]" {
				t.Errorf("created %v", mr)
			}
		})
	}
}

func TestNinetyDaySupply(t *testing.T) {
	for _, c := range []struct{ in, wantQty string }{
		{`{"resourceType":"MedicationRequest","id":"x","dispenseRequest":{"quantity":{"value":60,"unit":"tablet"},"expectedSupplyDuration":{"value":30,"code":"d"}}}`, "180"}, // twice daily
		{`{"resourceType":"MedicationRequest","id":"x"}`, ""},
		{`{"resourceType":"MedicationRequest","id":"x","dispenseRequest":{"quantity":{"value":30}}}`, ""}, // no duration: quantity left to the pharmacy
	} {
		out, ok := ninetyDaySupply(json.RawMessage(c.in))
		if !ok {
			t.Fatalf("%s: not ok", c.in)
		}
		var m struct {
			DispenseRequest struct {
				Quantity *struct{ Value json.Number } `json:"quantity"`
				Refills  int                          `json:"numberOfRepeatsAllowed"`
			} `json:"dispenseRequest"`
		}
		json.Unmarshal(out, &m)
		got := ""
		if m.DispenseRequest.Quantity != nil {
			got = string(m.DispenseRequest.Quantity.Value)
		}
		if got != c.wantQty || m.DispenseRequest.Refills != 3 {
			t.Errorf("%s -> %s", c.in, out)
		}
	}
	if _, ok := ninetyDaySupply(json.RawMessage(`{"dispenseRequest":[1]}`)); ok {
		t.Error("accepted a dispenseRequest that is not an object")
	}
}

// FuzzAdherenceDecoders: the hook-side decoders of adherence.go (dispenses, conditions, patient,
// the draft's dispenseRequest) never panic, and an updated draft is valid JSON with the draft's
// other members.
func FuzzAdherenceDecoders(f *testing.F) {
	f.Add([]byte(`{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"coding":[{"code":"83367"}]},"daysSupply":{"value":30},"whenHandedOver":"2026-01-05"}`),
		[]byte(`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"E11.9"}]}}`),
		[]byte(`{"resourceType":"Patient","birthDate":"1960-02-29"}`),
		[]byte(`{"resourceType":"MedicationRequest","id":"d","dispenseRequest":{"quantity":{"value":30},"expectedSupplyDuration":{"value":30,"code":"d"}}}`))
	f.Fuzz(func(t *testing.T, disp, cond, pat, draft []byte) {
		data := &hookData{patient: pat, conditions: []json.RawMessage{cond}}
		p, _ := patientFacts(measuresValueSet(), data, []json.RawMessage{disp, disp}, 0)
		today := p.BirthDate
		for _, m := range []int{0, 1, 2} {
			td := measuresPDCToDate(p, m)
			adherenceCard(draft, td, nil, nil)
		}
		supdCard(p, data, "x", 2026, today, nil, findStatinCautions(measuresValueSet(), data, []json.RawMessage{cond}, true, 2026))
		if out, ok := ninetyDaySupply(draft); ok {
			var a, b map[string]json.RawMessage
			if json.Unmarshal(out, &b) != nil || json.Unmarshal(draft, &a) != nil {
				t.Fatalf("updated draft is not a JSON object: %s", out)
			}
			for k := range a {
				if _, ok := b[k]; !ok {
					t.Fatalf("member %q lost", k)
				}
			}
		}
	})
}

// maCoverage is a Coverage of the sample Medicare Advantage capitation contract (sopt 112, plan
// MA-GLOBAL-CAP), whose quality terms in scoring/data/contracts.yaml price the gaps.
func maCoverage() map[string]any {
	return map[string]any{"resourceType": "Coverage", "id": "cov-adh", "status": "active",
		"type":        map[string]any{"coding": []map[string]string{{"system": "https://nahdo.org/sopt", "code": "112"}}},
		"beneficiary": map[string]string{"reference": "Patient/pat-adh"}, "period": map[string]string{"start": "2024-01-01"},
		"payor": []map[string]string{{"display": "Demo Medicare Advantage Plan"}},
		"class": []map[string]any{{"type": map[string]any{"coding": []map[string]string{{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}}}, "value": "MA-GLOBAL-CAP"}}}
}

func withCoverage(t *testing.T, body []byte, cov map[string]any) []byte {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["prefetch"].(map[string]any)["coverage"] = bundle(cov)
	out, _ := json.Marshal(m)
	return out
}

func qualityOf(t *testing.T, c cdshooks.Card) (qualityEconomics, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.Extension, &m); err != nil {
		t.Fatal(err)
	}
	raw, ok := m[extQuality]
	var q qualityEconomics
	if ok {
		if err := json.Unmarshal(raw, &q); err != nil {
			t.Fatal(err)
		}
	}
	return q, ok
}

// TestAdherenceCardsPriceTheGap: the expected value of closing the gap under the sample MA
// contract's quality terms, on the card text and in valuerx-quality, worked by hand; and the
// adherence and SUPD cards are recorded as decisions with that figure (issue 17 item 3).
func TestAdherenceCardsPriceTheGap(t *testing.T) {
	now := time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)
	e := newEnv(t, withNow(now))
	const atorva = "83367"
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	cards := adherenceCardsOf(t, e, withCoverage(t, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()), maCoverage()))
	if len(cards) != 1 {
		t.Fatalf("%d adherence cards", len(cards))
	}
	// PDC-STA terms of ma-capitation: 756 of 900 adherent (0.84 x 900); the 87 % tier needs
	// ceil(0.87 x 900) = 783, 27 short; the step is (0.20 - 0.10) x 6000 members x 12 = 7,200, so
	// 7,200/27 = 266.67 a gap. Star: 3 x 100/900 x 150 = 50. If the patient reaches 80 %:
	// 40 + 25 + 266.67 + 50 = 381.67; x 0.6 = 229.00; programme 1.50 x 6 months (July to
	// December) = 9: expected 238.00.
	q, ok := qualityOf(t, cards[0])
	if !ok {
		t.Fatalf("no %s extension: %s", extQuality, cards[0].Extension)
	}
	o := q.Organisation
	if q.Contract != "ma-capitation" || q.Measure != "PDC-STA" || o.Expected != 238 || o.IfClosed != 381.67 || o.CloseProbability != 0.6 || o.Programme != 9 {
		t.Errorf("valuerx-quality %+v", q)
	}
	want := map[string]float64{scoring.GapBonusClosed: 40, scoring.GapBonusAdherent: 25, scoring.GapTierShare: 266.67, scoring.GapStarRating: 50, scoring.GapProgrammeFee: 9}
	for _, p := range q.Parts {
		if want[p.Kind] != p.Amount || p.Source == "" {
			t.Errorf("part %+v, want %v", p, want[p.Kind])
		}
		delete(want, p.Kind)
	}
	if len(want) != 0 {
		t.Errorf("missing parts %v", want)
	}
	for _, s := range []string{"**Organisation: +$238 expected**", "$40.00 per gap closed + $25.00 per adherent patient + $267 share of the next rate tier's fee + $50.00 Star Ratings value = $382", "× 60 % of such gaps closing", "plus $9.00 programme fees (6 months)", "not a drug cost"} {
		if !strings.Contains(cards[0].Detail, s) {
			t.Errorf("detail lacks %q:\n%s", s, cards[0].Detail)
		}
	}
	d, err := e.store.Decision(context.Background(), cards[0].UUID)
	if err != nil {
		t.Fatalf("adherence card not recorded: %v", err)
	}
	if d.GroupID != "PDC-STA" || d.ContractID != "ma-capitation" || d.OrgImpact != 238 || len(d.Suggestions) != 1 ||
		d.Suggestions[0].UUID != cards[0].Suggestions[0].UUID || d.Suggestions[0].OrgImpact != 238 || d.OrderKey == "" || d.UserID != "Practitioner/dr-1" {
		t.Errorf("decision %+v", d)
	}

	// SUPD, same contract: 30 per gap closed + 1 x 100/400 x 150 = 37.50 Star value = 67.50,
	// x 0.8 = 54.00 expected.
	diabetes := bundle(map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}}}})
	cards = adherenceCardsOf(t, e, withCoverage(t, orderSign(t, "1965-09-09", metforminOrder(), bundle(), diabetes), maCoverage()))
	if len(cards) != 1 {
		t.Fatalf("%d SUPD cards", len(cards))
	}
	q, _ = qualityOf(t, cards[0])
	if q.Measure != "SUPD" || q.Organisation.Expected != 54 || q.Organisation.IfClosed != 67.5 {
		t.Errorf("SUPD valuerx-quality %+v", q)
	}
	if !strings.Contains(cards[0].Detail, "**Organisation: +$54.00 expected**") || !strings.Contains(cards[0].Detail, "if the patient fills a statin this year, $30.00 per gap closed + $37.50 Star Ratings value = $67.50") {
		t.Errorf("SUPD detail:\n%s", cards[0].Detail)
	}
	if d, err := e.store.Decision(context.Background(), cards[0].UUID); err != nil || d.GroupID != "SUPD" || d.OrgImpact != 54 {
		t.Errorf("SUPD decision %+v, %v", d, err)
	}

	// Without a contract (no Coverage) the card carries no quality figures, and is still recorded.
	cards = adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()))
	if _, ok := qualityOf(t, cards[0]); ok || strings.Contains(cards[0].Detail, "Organisation") {
		t.Errorf("a card without a contract has quality figures: %s", cards[0].Detail)
	}
	if d, err := e.store.Decision(context.Background(), cards[0].UUID); err != nil || d.ContractID != "" || d.OrgImpact != 0 {
		t.Errorf("decision without contract %+v, %v", d, err)
	}
}

// TestAdherenceCardsPharmacistRead: what the pharmacist review changed (issue 17 item 6), through
// the real gateway on 1 July 2026.
func TestAdherenceCardsPharmacistRead(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	// Under 18 at the end of the year (familial hypercholesterolaemia): the PQA measures count
	// adults only, no card.
	if cards := adherenceCardsOf(t, e, orderSign(t, "2010-05-05", atorvastatinOrder(), low, bundle())); len(cards) != 0 {
		t.Errorf("a 16-year-old got an adherence card: %s", cards[0].Summary)
	}
	// One fill this year (Mar 1, 30 days): 30 of 123 days covered, 0.24; not in the denominator
	// yet (two fills needed), which the card and its extension say.
	one := bundle(dispense(atorva, "atorvastatin", "2026-03-01", 30))
	cards := adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), one, bundle()))
	if len(cards) != 1 {
		t.Fatalf("%d cards for a single fill", len(cards))
	}
	x := ext(t, cards[0])
	if x.InDenominator == nil || *x.InDenominator || *x.DaysCovered != 30 || *x.Days != 123 ||
		!strings.Contains(cards[0].Detail, "Not yet counted in the measure: it needs two fills on different dates") ||
		!strings.Contains(cards[0].Detail, "No supply left from the last fill: the patient is out of medication now.") {
		t.Errorf("single fill: %+v\n%s", x, cards[0].Detail)
	}
	// The four-fill patient is in the denominator, with the refill date.
	cards = adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()))
	if x := ext(t, cards[0]); x.InDenominator == nil || !*x.InDenominator || !strings.Contains(cards[0].Detail, "About 5 days of supply left from the last fill (refill due 2026-07-07).") {
		t.Errorf("four fills: %+v\n%s", x, cards[0].Detail)
	}
	// SUPD: the summary a prescriber acts on, the chart checks, a 30-day new start.
	diabetes := bundle(map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}}}})
	cards = adherenceCardsOf(t, e, orderSign(t, "1965-09-09", metforminOrder(), bundle(), diabetes))
	if len(cards) != 1 {
		t.Fatalf("%d SUPD cards", len(cards))
	}
	c := cards[0]
	if c.Summary != "Diabetes, age 60, no statin filled this year: guidelines recommend a moderate-intensity statin" ||
		!strings.Contains(c.Detail, "E11.9 on the problem list") || !strings.Contains(c.Detail, "statin intolerance or allergy") ||
		!strings.Contains(c.Detail, "enters the measure with a second diabetes medication fill") ||
		c.Suggestions[0].Label != "Add atorvastatin 20 mg daily (moderate intensity), 30 days with 3 refills" {
		t.Errorf("SUPD card %q / %q\n%s", c.Summary, c.Suggestions[0].Label, c.Detail)
	}
	var mr struct {
		DispenseRequest struct {
			Refills  int                     `json:"numberOfRepeatsAllowed"`
			Quantity struct{ Value float64 } `json:"quantity"`
		} `json:"dispenseRequest"`
	}
	json.Unmarshal(c.Suggestions[0].Actions[0].Resource, &mr)
	if mr.DispenseRequest.Refills != 3 || mr.DispenseRequest.Quantity.Value != 30 {
		t.Errorf("SUPD create %s", c.Suggestions[0].Actions[0].Resource)
	}
	for _, card := range append(cards, adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()))...) {
		if len(card.Summary) > 140 {
			t.Errorf("summary over 140 characters: %q", card.Summary)
		}
	}
}

// TestAdherenceLogsNoPHI: the adherence hooks, including one whose dispenses cannot be fetched,
// log no patient id, birth date or drug.
func TestAdherenceLogsNoPHI(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	low := bundle(dispense("83367", "atorvastatin", "2026-01-01", 30), dispense("83367", "atorvastatin", "2026-03-25", 30))
	adherenceCardsOf(t, e, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()))
	// No dispenses prefetch and a FHIR server that refuses: the fetch fails and is logged.
	body := orderSign(t, "1955-04-02", atorvastatinOrder(), nil, bundle())
	var m map[string]any
	json.Unmarshal(body, &m)
	delete(m["prefetch"].(map[string]any), "dispenses")
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer dead.Close()
	m["fhirServer"] = dead.URL
	body, _ = json.Marshal(m)
	adherenceCardsOf(t, e, body)
	logs := e.logs.String()
	if !strings.Contains(logs, "dispenses not fetched") {
		t.Fatalf("the failed fetch was not logged:\n%s", logs)
	}
	for _, phi := range []string{"pat-adh", "1955-04-02", "atorvastatin", "Practitioner/dr-1"} {
		if strings.Contains(logs, phi) {
			t.Errorf("logs contain %q", phi)
		}
	}
}

// TestCoverageMemberID: the primary Coverage's subscriberId is the plan member id rosters may be
// keyed by (issue 17 item 4); the Medicare MBI rule is unchanged.
func TestCoverageMemberID(t *testing.T) {
	on := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	ppo := json.RawMessage(`{"resourceType":"Coverage","status":"active","subscriberId":" PPO-778812 ","type":{"coding":[{"system":"https://nahdo.org/sopt","code":"512"}]}}`)
	cov, ok := coverageFacts([]json.RawMessage{ppo}, nil, on)
	if !ok || cov.MemberID != "PPO-778812" || cov.MBI != "" {
		t.Errorf("commercial: %+v", cov)
	}
	ma := json.RawMessage(`{"resourceType":"Coverage","status":"active","subscriberId":"1EG4TE5MK73","type":{"coding":[{"system":"https://nahdo.org/sopt","code":"121"}]}}`)
	if cov, _ := coverageFacts([]json.RawMessage{ma}, nil, on); cov.MemberID != "1EG4TE5MK73" || cov.MBI != "1EG4TE5MK73" {
		t.Errorf("medicare: %+v", cov)
	}
}

// TestAdherenceCardOffersTheGeneric: a brand statin order (Lipitor 40 mg) under the commercial
// PPO, for a patient at PDC 0.63, gets the AB-rated generic with a 90-day supply first on the
// adherence card (it lowers what the patient pays), then the 90-day supply of the order as is.
func TestAdherenceCardOffersTheGeneric(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	lipitor := atorvastatinOrder()
	lipitor["medicationCodeableConcept"] = map[string]any{"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617320", "display": "atorvastatin 40 MG Oral Tablet [Lipitor]"}}, "text": "Lipitor 40 mg tablet"}
	ppo := map[string]any{"resourceType": "Coverage", "id": "cov-ppo", "status": "active",
		"type":        map[string]any{"coding": []map[string]string{{"system": "https://nahdo.org/sopt", "code": "512"}}},
		"beneficiary": map[string]string{"reference": "Patient/pat-adh"}, "period": map[string]string{"start": "2024-01-01"},
		"payor": []map[string]any{{"identifier": map[string]string{"system": "https://valuerx.dev/fhir/payer-id", "value": "valuerx-demo-ppo"}}},
		"class": []map[string]any{{"type": map[string]any{"coding": []map[string]string{{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}}}, "value": "PPO-GOLD"}}}
	body := withCoverage(t, orderSign(t, "1955-04-02", lipitor, low, bundle()), ppo)
	status, out, _ := e.post("/cds-services/"+ServiceOrderSign, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	var costCard *cdshooks.Card
	var adh []cdshooks.Card
	for _, c := range decodeResponse(t, out).Cards {
		if strings.Contains(string(c.Extension), extAdherence) {
			adh = append(adh, c)
		} else if strings.Contains(string(c.Extension), extensionKey) {
			costCard = &c
		}
	}
	if len(adh) != 1 || costCard == nil {
		t.Fatalf("%d adherence cards, cost card %v", len(adh), costCard != nil)
	}
	s := adh[0].Suggestions
	if len(s) != 2 || !s[0].IsRecommended || s[1].IsRecommended {
		t.Fatalf("suggestions %+v", s)
	}
	// The cost card's figures for the same order, per the order's 30 days: the generic costs the
	// patient $0.15, Lipitor $74.56 (a third of the golden commercial-ppo-lipitor-order-sign
	// card's $0.44 vs $224 for 90 days).
	if s[0].Label != "Switch to atorvastatin 40 mg tablet (generic), 90 days with 3 refills (patient cost $0.15 vs $74.56 per 30 days)" ||
		!strings.Contains(costCard.Summary, "patient cost $0.15 vs $74.56/30 days") {
		t.Errorf("generic suggestion %q; cost card %q", s[0].Label, costCard.Summary)
	}
	var upd struct {
		ID  string `json:"id"`
		Med struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"medicationCodeableConcept"`
		Note            []any `json:"note"`
		DispenseRequest struct {
			Refills  int                     `json:"numberOfRepeatsAllowed"`
			Quantity struct{ Value float64 } `json:"quantity"`
		} `json:"dispenseRequest"`
	}
	json.Unmarshal(s[0].Actions[0].Resource, &upd)
	if upd.ID != "draft-1" || len(upd.Med.Coding) == 0 || upd.Med.Coding[0].Code != "617311" || len(upd.Note) != 1 ||
		upd.DispenseRequest.Refills != 3 || upd.DispenseRequest.Quantity.Value != 90 {
		t.Errorf("generic update %s", s[0].Actions[0].Resource)
	}
	if !strings.Contains(adh[0].Detail, "the Orange Book AB-rated generic (atorvastatin 40 mg tablet) costs the patient $0.15 per 30 days, Lipitor costs $74.56") {
		t.Errorf("detail:\n%s", adh[0].Detail)
	}
}

// TestSUPDStatinOnTheList: a statin on the medication list without a fill this year (cash or
// discount-card fills reach no claim) gets a card that asks, and no second statin order.
func TestSUPDStatinOnTheList(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	diabetes := bundle(map[string]any{"resourceType": "Condition", "code": map[string]any{"coding": []map[string]string{{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}}}})
	body := orderSign(t, "1965-09-09", metforminOrder(), bundle(), diabetes)
	var m map[string]any
	json.Unmarshal(body, &m)
	m["prefetch"].(map[string]any)["medications"] = bundle(map[string]any{"resourceType": "MedicationRequest", "id": "rx-statin", "status": "active", "intent": "order",
		"medicationCodeableConcept": map[string]any{"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617310", "display": "atorvastatin 20 MG Oral Tablet"}}},
		"subject":                   map[string]string{"reference": "Patient/pat-adh"}})
	body, _ = json.Marshal(m)
	cards := adherenceCardsOf(t, e, body)
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	c := cards[0]
	if c.Summary != "Diabetes, age 60: atorvastatin 20 MG Oral Tablet is on the medication list but not filled this year" || len(c.Suggestions) != 0 ||
		!strings.Contains(c.Detail, "No new statin is suggested: that would duplicate therapy.") {
		t.Errorf("card %q, %d suggestions\n%s", c.Summary, len(c.Suggestions), c.Detail)
	}
}

// TestAdherenceFeedbackBooks: the EHR's feedback on an adherence card is accepted through the
// real feedback endpoint (the card has its decision), and the programme's order record books
// the accepted 90-day suggestion's expected quality value as the organisation's figure, under the
// measure and as its own order.
func TestAdherenceFeedbackBooks(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	cards := adherenceCardsOf(t, e, withCoverage(t, orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle()), maCoverage()))
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	fb, _ := json.Marshal(map[string]any{"feedback": []any{map[string]any{"card": cards[0].UUID, "outcome": "accepted",
		"acceptedSuggestions": []any{map[string]any{"id": cards[0].Suggestions[0].UUID}}, "outcomeTimestamp": "2026-07-01T15:01:00Z"}}})
	if s, out, _ := e.post("/cds-services/"+ServiceOrderSign+"/feedback", fb); s != http.StatusOK {
		t.Fatalf("feedback: %d %s", s, out)
	}
	orders, err := e.store.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range orders {
		if o.GroupID == "PDC-STA" {
			found = true
			if o.Outcome != "accepted" || o.OrgImpact != 238 || o.ContractID != "ma-capitation" {
				t.Errorf("order record %+v", o)
			}
		}
	}
	if !found {
		t.Fatalf("no PDC-STA order among %+v", orders)
	}
}

// TestAdherenceOverrideSuppresses: once the clinician overrides an adherence card for an order,
// signing the same order again shows no adherence card (as for the cost cards); another order
// still gets one.
func TestAdherenceOverrideSuppresses(t *testing.T) {
	e := newEnv(t, withNow(time.Date(2026, time.July, 1, 15, 0, 0, 0, time.UTC)))
	const atorva = "83367"
	low := bundle(dispense(atorva, "atorvastatin", "2026-01-01", 30), dispense(atorva, "atorvastatin", "2026-02-10", 30),
		dispense(atorva, "atorvastatin", "2026-03-25", 30), dispense(atorva, "atorvastatin", "2026-06-07", 30))
	body := orderSign(t, "1955-04-02", atorvastatinOrder(), low, bundle())
	cards := adherenceCardsOf(t, e, body)
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	fb, _ := json.Marshal(map[string]any{"feedback": []any{map[string]any{"card": cards[0].UUID, "outcome": "overridden", "outcomeTimestamp": "2026-07-01T15:01:00Z"}}})
	if s, out, _ := e.post("/cds-services/"+ServiceOrderSign+"/feedback", fb); s != http.StatusOK {
		t.Fatalf("feedback: %d %s", s, out)
	}
	if again := adherenceCardsOf(t, e, body); len(again) != 0 {
		t.Errorf("the overridden card came back: %s", again[0].Summary)
	}
	other := atorvastatinOrder()
	otherBody := orderSign(t, "1955-04-02", other, low, bundle())
	otherBody = []byte(strings.Replace(string(otherBody), `"id":"draft-1"`, `"id":"draft-2"`, 1))
	if got := adherenceCardsOf(t, e, otherBody); len(got) != 1 {
		t.Errorf("another order: %d cards, want 1", len(got))
	}
}
