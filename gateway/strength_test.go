package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// editDraft decodes a demo request, lets mutate change its first draft order, and re-encodes it.
func editDraft(t *testing.T, body []byte, mutate func(mr map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	entry := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
	mutate(entry["resource"].(map[string]any))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type suggested struct {
	label, rxnorm, ndc, text string
	dose                     map[string]any
	dosageText               string
}

// suggestionsOf returns every suggestion of the only card with the medication it codes.
func suggestionsOf(t *testing.T, body []byte) []suggested {
	t.Helper()
	resp := decodeResponse(t, body)
	if len(resp.Cards) == 0 {
		return nil
	}
	if len(resp.Cards) != 1 {
		t.Fatalf("want one card, got %d", len(resp.Cards))
	}
	var out []suggested
	for _, s := range resp.Cards[0].Suggestions {
		var mr struct {
			MedicationCodeableConcept struct {
				Coding []struct{ System, Code string }
				Text   string
			}
			DosageInstruction []struct {
				Text        string
				DoseAndRate []struct {
					DoseQuantity map[string]any
				}
			}
		}
		if err := json.Unmarshal(s.Actions[0].Resource, &mr); err != nil {
			t.Fatal(err)
		}
		sg := suggested{label: s.Label, text: mr.MedicationCodeableConcept.Text}
		for _, c := range mr.MedicationCodeableConcept.Coding {
			switch c.System {
			case "http://www.nlm.nih.gov/research/umls/rxnorm":
				sg.rxnorm = c.Code
			case "http://hl7.org/fhir/sid/ndc":
				sg.ndc = c.Code
			}
		}
		if len(mr.DosageInstruction) > 0 {
			sg.dosageText = mr.DosageInstruction[0].Text
			if len(mr.DosageInstruction[0].DoseAndRate) > 0 {
				sg.dose = mr.DosageInstruction[0].DoseAndRate[0].DoseQuantity
			}
		}
		out = append(out, sg)
	}
	return out
}

// Issue 10, defect 1 (patient safety): a Lipitor order of any strength is answered with the
// generic of exactly that strength. The RxNorm concepts are those of the NLM RxNorm seed
// (scoring/data/rxnorm_statins_glargine_seed.csv): Lipitor SBDs 617314 (10 mg), 617318 (20 mg),
// 617320 (40 mg), 262095 (80 mg); the generic SCDs 617312 (10 mg), 617310 (20 mg), 617311 (40
// mg), 259255 (80 mg); the older salt-named SBDs (153162 = Atorvastatin calcium 10 MG [Lipitor])
// are recognised too. The dose instruction "1 tablet daily" is kept, so the dose is unchanged.
func TestAtorvastatinSwapKeepsStrength(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		ordered  string // Lipitor RxNorm SBD
		mg       string
		wantSCD  string
		wantNDC  string // only the 10 mg tablet has an NDC in the NADAC extract
		wantText string
	}{
		{"617314", "10", "617312", "00093505610", "atorvastatin 10 mg tablet (generic)"},
		{"153162", "10", "617312", "00093505610", "atorvastatin 10 mg tablet (generic)"},
		{"617318", "20", "617310", "", "atorvastatin 20 mg tablet (generic)"},
		{"617320", "40", "617311", "", "atorvastatin 40 mg tablet (generic)"},
		{"262095", "80", "259255", "", "atorvastatin 80 mg tablet (generic)"},
	}
	for _, c := range cases {
		t.Run(c.mg+"mg-"+c.ordered, func(t *testing.T) {
			body := editDraft(t, e.demoRequest("commercial-ppo-lipitor-order-sign"), func(mr map[string]any) {
				mr["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
					"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": c.ordered}}}
				mr["dosageInstruction"].([]any)[0].(map[string]any)["text"] = c.mg + " mg by mouth daily"
			})
			status, resp, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, resp)
			}
			sgs := suggestionsOf(t, resp)
			if len(sgs) != 1 {
				t.Fatalf("want one suggestion, got %d", len(sgs))
			}
			s := sgs[0]
			if s.rxnorm != c.wantSCD || s.ndc != c.wantNDC || s.text != c.wantText {
				t.Fatalf("suggestion codes RxNorm %s NDC %q text %q; want %s %q %q", s.rxnorm, s.ndc, s.text, c.wantSCD, c.wantNDC, c.wantText)
			}
			if !strings.Contains(s.label, c.mg+" mg") {
				t.Fatalf("label %q names no strength", s.label)
			}
			if s.dose["value"] != 1.0 || s.dosageText != c.mg+" mg by mouth daily" {
				t.Fatalf("dose changed: %v %q", s.dose, s.dosageText)
			}
		})
	}
}

// Two 20 mg tablets daily stay two 20 mg tablets: the suggestion codes the 20 mg SCD and keeps
// "2 tablets", never one 40 mg tablet coded under the order's two-tablet instruction.
func TestAtorvastatinTwoTabletsKeepStrength(t *testing.T) {
	e := newEnv(t)
	body := editDraft(t, e.demoRequest("commercial-ppo-lipitor-order-sign"), func(mr map[string]any) {
		mr["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617318"}}}
		di := mr["dosageInstruction"].([]any)[0].(map[string]any)
		di["text"] = "40 mg (2 x 20 mg) by mouth daily"
		di["doseAndRate"].([]any)[0].(map[string]any)["doseQuantity"] = map[string]any{"value": 2, "unit": "tablet", "code": "{tbl}", "system": "http://unitsofmeasure.org"}
	})
	status, resp, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	sgs := suggestionsOf(t, resp)
	if len(sgs) != 1 || sgs[0].rxnorm != "617310" || sgs[0].dose["value"] != 2.0 {
		t.Fatalf("want the 20 mg SCD 617310 with 2 tablets, got %+v", sgs)
	}
}

// Issue 10, defect 4: the sandbox re-codes Hercessi (no RxNorm code in the extract) as RxNorm
// "Q5146". A HCPCS-shaped code under the RxNorm system is looked up as HCPCS, so the known
// product is recognised (and, ordered, answered like any Hercessi order) instead of silently
// getting no card.
func TestHCPCSCodeUnderRxNormSystemIsRecognised(t *testing.T) {
	e := newEnv(t)
	cat := e.gw.cfg.Catalog
	for _, code := range []string{"Q5146", "q5146"} {
		mr := &medRequest{ResourceType: "MedicationRequest"}
		raw := []byte(`{"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"` + code + `"}]}}`)
		if err := json.Unmarshal(raw, mr); err != nil {
			t.Fatal(err)
		}
		item, ok := recogniseDecoded(cat, raw, mr, nil, e.gw.cfg.Now())
		if !ok || item.product.ID != "hercessi" {
			t.Fatalf("code %s under RxNorm: recognised %v as %q, want hercessi", code, ok, item.product.ID)
		}
	}
	// Digits stay RxNorm only: an unknown RXCUI is not guessed as anything else.
	raw := []byte(`{"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"51461"}]}}`)
	var mr medRequest
	_ = json.Unmarshal(raw, &mr)
	if _, ok := recogniseDecoded(cat, raw, &mr, nil, e.gw.cfg.Now()); ok {
		t.Fatal("an unknown RXCUI was recognised")
	}
}

// Every trastuzumab suggestion names product, FDA suffix, dose and schedule, and codes the
// vial the dose uses (420 mg: the 420 mg vial's RxNorm concept and NDC), with the dose in mg kept.
func TestBiologicSuggestionNamesStrengthAndSuffix(t *testing.T) {
	e := newEnv(t)
	status, resp, _ := e.post(serviceOf("aco-herceptin-order-select"), e.demoRequest("aco-herceptin-order-select"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	sgs := suggestionsOf(t, resp)
	if len(sgs) == 0 {
		t.Fatal("no suggestion")
	}
	// Trazimera's 420 mg multi-dose vial: NDC 00069-0305-01, RxNorm 2280732
	// (QUMI extract, scoring/data/ndc_rxcui_hcpcs_biologics.csv).
	s := sgs[0]
	if s.label != "Switch to Trazimera (trastuzumab-qyyp) 420 mg IV q3w" || s.rxnorm != "2280732" || s.ndc != "00069030501" {
		t.Fatalf("first suggestion %+v", s)
	}
	for _, s := range sgs {
		if s.dose["value"] != 420.0 || s.dose["code"] != "mg" {
			t.Fatalf("dose changed in %q: %v", s.label, s.dose)
		}
	}
}

// editRequest decodes a request, lets mutate change it, and re-encodes it.
func editRequest(t *testing.T, body []byte, mutate func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	mutate(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// draftOf returns the first draft order of a decoded request.
func draftOf(m map[string]any) map[string]any {
	entry := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
	return entry["resource"].(map[string]any)
}

// Pharmacist review C1: a Lipitor order coded only with the brand name (RxNorm BN 153165) names
// no strength: no suggestion may put a strength into it (the group's default was 10 mg).
func TestNoStrengthNoSuggestion(t *testing.T) {
	e := newEnv(t)
	body := editDraft(t, e.demoRequest("commercial-ppo-lipitor-order-sign"), func(mr map[string]any) {
		mr["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "153165", "display": "Lipitor"}}}
	})
	status, resp, _ := e.post(serviceOf("commercial-ppo-lipitor-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, resp)
	}
	if sgs := suggestionsOf(t, resp); len(sgs) != 0 {
		t.Fatalf("an order with no strength got %q", labels(sgs))
	}
}

// Pharmacist review H5: a suggestion keeps the ordered device. Neulasta Onpro (RxNorm 2549331,
// "pegfilgrastim 10 mg/mL Kit [Neulasta]", an on-body injector) is not replaced by a prefilled
// syringe, which would have the patient come back the next day; no biosimilar in the catalog has a
// kit, so no suggestion. A Neupogen vial (RxNorm 1649963, 480 mcg/1.6 mL) gets only vials: Nivestym
// has one (RxNorm 2057214), Zarxio and Releuko only syringes.
func TestSuggestionKeepsTheDevice(t *testing.T) {
	e := newEnv(t)
	order := func(code string, mg float64, unit string) []byte {
		return editRequest(t, e.demoRequest("aco-herceptin-order-select"), func(m map[string]any) {
			d := draftOf(m)
			d["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}}}
			d["dosageInstruction"] = []any{map[string]any{"timing": map[string]any{"repeat": map[string]any{"count": 6, "frequency": 1, "period": 3, "periodUnit": unit}},
				"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": mg, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}}}}
		})
	}
	_, resp, _ := e.post(serviceOf("aco-herceptin-order-select"), order("2549331", 6, "wk"))
	if sgs := suggestionsOf(t, resp); len(sgs) != 0 {
		t.Fatalf("an on-body injector order got %q", labels(sgs))
	}
	_, resp, _ = e.post(serviceOf("aco-herceptin-order-select"), order("1649963", 0.48, "d"))
	sgs := suggestionsOf(t, resp)
	if len(sgs) == 0 {
		t.Fatal("the Neupogen vial order got no suggestion; want the Nivestym vial")
	}
	for _, s := range sgs {
		if !strings.Contains(s.label, "Nivestym") || s.rxnorm != "2057214" {
			t.Fatalf("a vial order got %q (RxNorm %s); want only the Nivestym vial 2057214", s.label, s.rxnorm)
		}
	}
}
