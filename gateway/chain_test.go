package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// Chained acceptances (finance review F5): a Herceptin order's order-select card is accepted on
// Hercessi, its order-sign card (the same draft, now Hercessi) then offers Trazimera. The order's
// saving is counted from the Herceptin first ordered, not from Hercessi. Worked by hand from the
// CMS Q1 2026 payment limits (USD per 10 mg: Herceptin 73.483, Hercessi 37.151, Trazimera 8.205;
// 17 doses a course and a year; 45 Herceptin units or 42 of a biosimilar a dose), Medicare
// saving 0.784 of the allowed difference (the deductible cancels: scoring.Saved):
//
//	select, Herceptin -> Hercessi: allowed 17 x (45 x 73.483 - 42 x 37.151) = 29,688.681;
//	  payer 23,275.925904, patient 5,937.7362
//	sign, Hercessi -> Trazimera: allowed 17 x 42 x (37.151 - 8.205) = 20,667.444;
//	  payer 16,203.276096, patient 4,133.4888
//	together: payer 39,479.202 a course, what Herceptin -> Trazimera saves in one step (the
//	  acceptance test of TestPayerSavingIsThePayersOwnPayment); per year, each acceptance booked
//	  to the cent: 23,275.93 + 16,203.28 = 39,479.21.
func TestChainedAcceptancesCountFromTheProductFirstOrdered(t *testing.T) {
	for _, c := range []struct {
		name                  string
		signOutcome           string // the order-sign card's feedback
		wantPayer             float64
		wantRealisedPayerYear float64
		wantSigned            string
	}{
		// Trazimera accepted and signed: the whole switch, projected and realised.
		{"sign accepted", "accepted", 39479.202, 39479.21, "trazimera"},
		// The sign card overridden: the order stays on Hercessi, signed as it, the switch accepted
		// at order-select: projected and realised the first acceptance's 23,275.925904 a course
		// (23,275.93 a year). Before 6 December it projected 0 (the deciding card overridden) and
		// realised the switch all the same; before the chain, Hercessi was the order's "ordered
		// product", and signing it as ordered realised 0.
		{"sign overridden", "overridden", 23275.925904, 23275.93, "hercessi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			sel := e.demoRequest("aco-herceptin-order-select")
			a := e.hook("order-select", sel).Cards[0]
			if a.Suggestions[2].Label[:20] != "Switch to Hercessi (" {
				t.Fatalf("third suggestion %q", a.Suggestions[2].Label)
			}
			e.feedback("order-select", map[string]any{"card": a.UUID, "outcome": "accepted",
				"acceptedSuggestions": []any{map[string]any{"id": a.Suggestions[2].UUID}}})
			sign := e.hook("order-sign", withDraft(t, e.demoRequest("aco-herceptin-order-sign-noprefetch"), a.Suggestions[2].Actions[0].Resource, ""))
			if len(sign.Cards) != 1 || len(sign.Cards[0].Suggestions) == 0 || sign.Cards[0].Suggestions[0].Label[:21] != "Switch to Trazimera (" {
				t.Fatalf("order-sign on Hercessi: %+v", sign.Cards)
			}
			b := sign.Cards[0]
			item := map[string]any{"card": b.UUID, "outcome": c.signOutcome}
			if c.signOutcome == "accepted" {
				item["acceptedSuggestions"] = []any{map[string]any{"id": b.Suggestions[0].UUID}}
			} else {
				item["overrideReason"] = map[string]any{"reason": map[string]any{"code": "patient-declines", "system": overrideSystem}}
			}
			e.feedback("order-sign", item)

			orders, err := e.store.Orders(ctx, time.Time{}, time.Time{})
			if err != nil || len(orders) != 1 {
				t.Fatalf("orders %d %v, want the one order", len(orders), err)
			}
			o := orders[0]
			if o.OrderedProductID != "herceptin" || o.OrderedRelationship != "reference" || o.SignedProductID != c.wantSigned ||
				math.Abs(o.PayerSaved-c.wantPayer) > 1e-6 {
				t.Fatalf("order %+v: want ordered Herceptin, signed %s, payer %.6f", o, c.wantSigned, c.wantPayer)
			}
			if o.Outcome != "accepted" {
				t.Errorf("order outcome %q, want accepted: its product is the one a card of it accepted", o.Outcome)
			}
			if c.signOutcome == "overridden" && (math.Abs(o.PatientSaved-5937.7362) > 1e-6 || o.PayerSavedYear != 23275.93) {
				t.Errorf("patient %.6f (want 5,937.7362), payer per year %.2f (want 23,275.93)", o.PatientSaved, o.PayerSavedYear)
			}
			if c.signOutcome == "accepted" && (math.Abs(o.PatientSaved-10071.225) > 1e-6 || o.PayerSavedYear != 39479.21) {
				t.Errorf("patient %.6f (want 5,937.7362 + 4,133.4888 = 10,071.225), payer per year %.2f (want 39,479.21)", o.PatientSaved, o.PayerSavedYear)
			}
			if op, ok := o.OptionOf("herceptin"); ok && (op.PerYear != store.Saving{}) {
				t.Errorf("the product first ordered is worth %+v against itself", op.PerYear)
			}
			// The same through the rollup the analysts' pages read.
			st, body, _ := e.do(http.MethodGet, "/analytics/outcomes", nil, analystHeader())
			var api tracking.Outcomes
			if st != 200 || json.Unmarshal(body, &api) != nil {
				t.Fatalf("outcomes: %d %s", st, body)
			}
			if api.Total.RealisedPayerSavedPerYearUSD != c.wantRealisedPayerYear || api.Total.RealisedSwitched != 1 {
				t.Errorf("realised payer per year %.2f (switched %d), want %.2f", api.Total.RealisedPayerSavedPerYearUSD, api.Total.RealisedSwitched, c.wantRealisedPayerYear)
			}
			st, body, _ = e.do(http.MethodGet, "/analytics/report", nil, analystHeader())
			var rep tracking.Report
			if st != 200 || json.Unmarshal(body, &rep) != nil {
				t.Fatalf("report: %d %s", st, body)
			}
			if want := math.Round(c.wantPayer*100) / 100; rep.Total.PayerSavedUSD != want || rep.Total.Orders != 1 {
				t.Errorf("report payer %.2f over %d orders, want %.2f over one", rep.Total.PayerSavedUSD, rep.Total.Orders, want)
			}
		})
	}
}
