package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// neulastaDraft is the ACO patient's order-select request with its draft replaced by pegfilgrastim
// 6 mg SC once, coded as given: hcpcs alone (J2506, Neulasta: prefilled syringe or Onpro kit), or
// the Onpro kit's NDC.
func neulastaDraft(t *testing.T, e *testEnv, coding map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.demoRequest("aco-herceptin-order-select"), &m); err != nil {
		t.Fatal(err)
	}
	r := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	r["medicationCodeableConcept"] = map[string]any{"coding": []any{coding}, "text": "pegfilgrastim"}
	delete(r, "reasonCode")
	delete(r, "reasonReference")
	r["dosageInstruction"] = []any{map[string]any{
		"text":        "6 mg SC once per chemotherapy cycle",
		"timing":      map[string]any{"repeat": map[string]any{"count": 1, "frequency": 1, "period": 21, "periodUnit": "d"}},
		"route":       map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "34206005", "display": "Subcutaneous route"}}},
		"doseAndRate": []any{map[string]any{"doseQuantity": map[string]any{"value": 6, "unit": "mg", "code": "mg", "system": "http://unitsofmeasure.org"}}},
	}}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A Neulasta order by its HCPCS code alone may be for the Onpro on-body injector; every
// pegfilgrastim biosimilar in the catalog is a prefilled syringe, so the card says that the order
// names no device and the suggestion has no on-body injector. An order for the Onpro kit itself
// (its NDC) gets no syringe suggested at all (scoring's device rule), so no such line.
func TestCardSaysWhenTheOrderNamesNoDevice(t *testing.T) {
	e := newEnv(t)
	s, out, _ := e.post(serviceOf("order-select"), neulastaDraft(t, e, map[string]any{
		"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J2506"}))
	if s != 200 {
		t.Fatal(s, string(out))
	}
	cards := decodeResponse(t, out).Cards
	if len(cards) != 1 || len(cards[0].Suggestions) == 0 {
		t.Fatalf("cards: %+v", cards)
	}
	if !strings.Contains(cards[0].Detail, "- Order names no device: ") || !strings.Contains(cards[0].Detail, " has no on-body injector") {
		t.Errorf("a J2506 order's card does not say the device is unknown:\n%s", cards[0].Detail)
	}
	// The same product by the Onpro kit's NDC: the device is named.
	s, out, _ = e.post(serviceOf("order-select"), neulastaDraft(t, e, map[string]any{
		"system": "http://hl7.org/fhir/sid/ndc", "code": "55513019201"}))
	if s != 200 {
		t.Fatal(s, string(out))
	}
	for _, c := range decodeResponse(t, out).Cards {
		if strings.Contains(c.Detail, "Order names no device") {
			t.Errorf("an order for the kit itself got the unknown-device line:\n%s", c.Detail)
		}
	}
}
