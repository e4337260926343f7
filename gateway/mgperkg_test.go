package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"valuerx/demo"
	"valuerx/fhir"
)

// setDraftDoseMg sets the first draft order's doseQuantity to mg mg.
func setDraftDoseMg(t *testing.T, body []byte, mg float64) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	r := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	for _, di := range r["dosageInstruction"].([]any) {
		for _, dr := range di.(map[string]any)["doseAndRate"].([]any) {
			dr.(map[string]any)["doseQuantity"] = map[string]any{"value": mg, "unit": "mg", "code": "mg", "system": "http://unitsofmeasure.org"}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An order written in mg is checked against the label's mg/kg maximum with the body weight the
// hook has (prefetched here: the demo ACO patient weighs 70 kg): 1,100 mg of Herceptin is 15.7
// mg/kg, above the label's 8 mg/kg though under the 1,200 mg bound of an mg order, so the card is
// a warning and says so in its order check, without the weight; 420 mg (6 mg/kg) is not. Without
// the weight at hand (order-sign without prefetch, where no draft is weight-based) the check
// costs no FHIR search.
func TestMgDoseCheckedAgainstTheWeightOnHand(t *testing.T) {
	e := newEnv(t)
	const check = "Trastuzumab (IV) dose 1100 mg is above the label maximum 8 mg/kg for the body weight on record"
	for _, c := range []struct {
		mg        float64
		indicator string
		warned    bool
	}{{1100, "warning", true}, {420, "info", false}} {
		s, out, _ := e.post(serviceOf("order-select"), setDraftDoseMg(t, e.demoRequest("aco-herceptin-order-select"), c.mg))
		if s != 200 {
			t.Fatal(s, string(out))
		}
		cards := decodeResponse(t, out).Cards
		if len(cards) != 1 {
			t.Fatalf("%g mg: %d cards", c.mg, len(cards))
		}
		card := cards[0]
		if card.Indicator != c.indicator || strings.Contains(card.Detail, "above the label maximum 8 mg/kg") != c.warned {
			t.Errorf("%g mg: indicator %s, detail %q", c.mg, card.Indicator, card.Detail)
		}
		if c.warned && (!strings.Contains(card.Detail, check) || strings.Contains(card.Detail, "70 kg")) {
			t.Errorf("%g mg: the order check %q with no weight, got %q", c.mg, check, card.Detail)
		}
	}

	// Without prefetch: count the Observation searches the hook makes.
	srv := fhir.NewServer()
	if err := srv.LoadBundle(demo.Patients()); err != nil {
		t.Fatal(err)
	}
	var observations atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "Observation") {
			observations.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	body := setJSON(t, setDraftDoseMg(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), 1100), "fhirServer", ts.URL)
	s, out, _ := e.post(serviceOf("order-sign"), body)
	if s != 200 {
		t.Fatal(s, string(out))
	}
	if n := observations.Load(); n != 0 {
		t.Errorf("an mg order without a weight at hand made %d Observation searches", n)
	}
	if cards := decodeResponse(t, out).Cards; len(cards) == 0 || strings.Contains(cards[0].Detail, "mg/kg for the body weight") {
		t.Errorf("no weight at hand, yet: %+v", cards)
	}
}
