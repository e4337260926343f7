package tracking_test

import (
	"strings"
	"testing"

	"valuerx/store"
	"valuerx/tracking"
)

// A payer saving is the payer's own payment since 3 December 2026 (scoring.Saved): under
// capitation there is none, the one saving being the organisation's (43,055.61 here for a
// Herceptin order switched to Trazimera). A payer-savings target on a capitated contract is then
// missed whatever the programme does (0 against 1,000,000 x 90/365 = 246,575.34): it is not
// measured, and says why, projected and realised alike.
func TestPayerSavingsTargetOnACapitatedContractIsNotMeasured(t *testing.T) {
	o := store.OrderRecord{ContractID: "ma-capitation", Arrangement: "capitation", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		Outcome: "accepted", AcceptedProductID: "trazimera", RecommendedProductID: "trazimera", OrgImpact: 43055.61, OrgImpactYear: 43055.61,
		SignedProductID: "trazimera", FirstAt: day(2, 1),
		Options: []store.Option{{ProductID: "trazimera", Eligible: true, PerCourse: store.Saving{Org: 43055.61}, PerYear: store.Saving{Org: 43055.61}}}}
	target := 1e6
	ts := []tracking.Target{{Contract: "ma-capitation", AnnualPayerSavingsUSD: &target, AnnualRealisedPayerSavingsUSD: &target}}
	f := tracking.Filter{From: finFrom, To: finTo}
	check := func(what string, rs []tracking.TargetResult, measure string) {
		t.Helper()
		for _, r := range rs {
			if r.Measure != measure {
				continue
			}
			if r.Measured || !strings.Contains(r.Note, "capitation") {
				t.Errorf("%s: %+v; want not measured, the note naming capitation", what, r)
			}
			return
		}
		t.Errorf("%s: no %s target in %+v", what, measure, rs)
	}
	rep := tracking.Build([]store.OrderRecord{o}, f, ts)
	check("projected", rep.Contracts[0].Targets, tracking.MeasureAnnualSavings)
	out := tracking.BuildOutcomes([]store.OrderRecord{o}, f, ts)
	check("realised", out.Contracts[0].Targets, tracking.MeasureRealised)
}
