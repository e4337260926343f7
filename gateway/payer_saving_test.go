package gateway

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

// TestPayerSavingIsThePayersOwnPayment: what a decision books as the payer's saving is the
// change in the payer's own payment, the card's "Medicare" or "Plan" row (payerPaid in its
// valuerx-economics), not the change in the allowed amount, which holds the patient's cost
// sharing, booked beside it as the patient's saving. Until 3 December 2026 the record booked the
// allowed amount: 50,356.13 to Medicare for a Trazimera switch whose card said Medicare pays
// 39,479.20 less, and 50,356.13 to a capitated plan that saves nothing.
//
// Worked by hand from the CMS Q1 2026 payment limits (USD per 10 mg: Herceptin J9355 73.483,
// Trazimera Q5116 8.205); 17 doses of 420 mg, 45 and 42 billing units: allowed 56,214.495 and
// 5,858.37 a course, 50,356.125 less. Under Part B the patient owes the deductible (283 in 2026,
// on the first dose) and 20 % of the rest, and Medicare pays what remains less 2 %
// sequestration: 0.98 x (0.8 x allowed - 226.4). The deductible cancels between two products:
//   - ACO and Medicare FFS: Medicare saves 0.784 x 50,356.125 = 39,479.202;
//   - Medicare Advantage with drugs in the capitated budget: the plan pays nothing per order
//     (payerPaid 0 for every product), so no payer saving; the one saving, to the budget, is the
//     organisation's (43,055.61);
//   - the commercial PPO: whatever its plan pays, the record books what its card shows.
func TestPayerSavingIsThePayersOwnPayment(t *testing.T) {
	type amounts struct{ Allowed, PayerPaid, Patient, Organisation float64 }
	type product struct {
		Product   string
		PerCourse amounts
	}
	for _, c := range []struct {
		request           string
		firstPayer, org   float64 // hand-worked per course, the first suggestion; org < 0: not worked here
		firstProduct      string
		payerIsNotAllowed bool // the allowed difference less the patient's is not the payer's
	}{
		{"aco-herceptin-order-select", 39479.202, -1, "trazimera", true},
		{"medicare-ffs-herceptin-order-select", 39479.202, -1, "trazimera", true},
		{"ma-capitation-herceptin-order-select", 0, 43055.61, "trazimera", true},
		{"commercial-ppo-herceptin-order-select", -1, -1, "", false},
	} {
		t.Run(c.request, func(t *testing.T) {
			e := newEnv(t)
			s, out, _ := e.post(serviceOf("order-select"), e.demoRequest(c.request))
			if s != 200 {
				t.Fatal(s, string(out))
			}
			resp := decodeResponse(t, out)
			if len(resp.Cards) != 1 {
				t.Fatalf("cards: %d", len(resp.Cards))
			}
			card := resp.Cards[0]
			var ext struct {
				Econ struct {
					Ordered product
					Options []product
				} `json:"valuerx-economics"`
			}
			if err := json.Unmarshal(card.Extension, &ext); err != nil {
				t.Fatal(err)
			}
			d, err := e.store.Decision(context.Background(), card.UUID)
			if err != nil {
				t.Fatal(err)
			}
			ord := ext.Econ.Ordered.PerCourse
			if len(d.Suggestions) == 0 || len(ext.Econ.Options) < len(d.Suggestions) {
				t.Fatalf("suggestions %+v, options %+v", d.Suggestions, ext.Econ.Options)
			}
			for i, sg := range d.Suggestions {
				o := ext.Econ.Options[i]
				if sg.ProductID != o.Product {
					t.Fatalf("suggestion %d is %s, the card's option %s", i, sg.ProductID, o.Product)
				}
				// The card rounds each figure to the cent, the record keeps them whole: a cent apart at most.
				if math.Abs(sg.PayerSaving-(ord.PayerPaid-o.PerCourse.PayerPaid)) > 0.011 ||
					math.Abs(sg.PatientSaving-(ord.Patient-o.PerCourse.Patient)) > 0.011 ||
					math.Abs(sg.OrgImpact-(o.PerCourse.Organisation-ord.Organisation)) > 0.011 {
					t.Errorf("%s books payer %.3f, patient %.3f, organisation %.3f; its card shows %.2f, %.2f, %.2f",
						sg.ProductID, sg.PayerSaving, sg.PatientSaving, sg.OrgImpact,
						ord.PayerPaid-o.PerCourse.PayerPaid, ord.Patient-o.PerCourse.Patient, o.PerCourse.Organisation-ord.Organisation)
				}
				if y := sg.PerYear; math.Abs(y.Payer-sg.PayerSaving) > 0.006 { // a course is a year of trastuzumab
					t.Errorf("%s per year %.2f, per course %.3f", sg.ProductID, y.Payer, sg.PayerSaving)
				}
				if c.payerIsNotAllowed && math.Abs(sg.PayerSaving-(ord.Allowed-o.PerCourse.Allowed)) < 1 {
					t.Errorf("%s books the allowed difference %.2f as the payer's saving", sg.ProductID, sg.PayerSaving)
				}
			}
			first := d.Suggestions[0]
			if c.firstProduct != "" && first.ProductID != c.firstProduct {
				t.Fatalf("first suggestion %s, want %s", first.ProductID, c.firstProduct)
			}
			if c.firstPayer >= 0 && math.Abs(first.PayerSaving-c.firstPayer) > 0.001 {
				t.Errorf("payer saving %.4f, want %.3f worked by hand", first.PayerSaving, c.firstPayer)
			}
			if c.org >= 0 && math.Abs(first.OrgImpact-c.org) > 0.005 {
				t.Errorf("organisation %.4f, want %.2f", first.OrgImpact, c.org)
			}
			if d.PayerSaving != first.PayerSaving {
				t.Errorf("the card's own payer saving %.3f is not its recommended suggestion's %.3f", d.PayerSaving, first.PayerSaving)
			}
			for _, op := range d.Options {
				if op.ProductID == first.ProductID && math.Abs(op.PerCourse.Payer-first.PayerSaving) > 0.006 {
					t.Errorf("option %s records payer %.2f, the suggestion %.3f", op.ProductID, op.PerCourse.Payer, first.PayerSaving)
				}
			}
		})
	}
}
